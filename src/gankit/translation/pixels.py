"""Pixel operations on image batches ``(N, C, H, W)`` for translation data: conversion to [-1, 1], luma,
Sobel edges, and pix2pix's random jitter (the same random crop and flip for both images of a pair)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["EDGE_THRESHOLD", "JITTER_LOAD", "to_float", "grayscale", "sobel_edges", "load_size", "jitter_batch", "centre_crop"]

JITTER_LOAD = 286 / 256  # pix2pix: resize 256 -> 286, random crop back to 256
EDGE_THRESHOLD = 0.3  # Sobel magnitude above this fraction of the image's maximum is an edge


def to_float(pixels: Tensor) -> Tensor:
    """uint8 ``(N, C, H, W)`` -> float in [-1, 1] (``p / 127.5 - 1``); float input is returned as is."""
    return pixels.float() / 127.5 - 1.0 if pixels.dtype == torch.uint8 else pixels


def grayscale(rgb: Tensor) -> Tensor:
    """``(N, 3, H, W)`` -> ``(N, 1, H, W)`` luma ``Y = 0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601, as Pillow's "L")."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=rgb.dtype, device=rgb.device)
    return (rgb * weights[None, :, None, None]).sum(dim=1, keepdim=True)


def sobel_edges(images: Tensor, threshold: float = EDGE_THRESHOLD) -> Tensor:
    """Binary edge maps of ``(N, 1, H, W)`` images in [-1, 1]: +1 on edges, -1 elsewhere (white lines on black).

    ``|∇I| = sqrt(G_x² + G_y²)`` with the 3x3 Sobel kernels ``G_x = [1 0 -1; 2 0 -2; 1 0 -1] * I`` and
    ``G_y = G_xᵀ * I`` (replicate padding), on intensities in [0, 1]; a pixel is an edge where ``|∇I|``
    exceeds ``threshold`` times the image's largest magnitude, so faint garments still get outlines.
    """
    x = (images.float() + 1) / 2
    kx = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]], device=x.device)
    kernels = torch.stack([kx, kx.t()])[:, None]  # (2, 1, 3, 3)
    grad = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernels)
    magnitude = grad.pow(2).sum(dim=1, keepdim=True).sqrt()
    peak = magnitude.amax(dim=(2, 3), keepdim=True).clamp_min(1e-8)
    return torch.where(magnitude > threshold * peak, 1.0, -1.0)


def load_size(image_size: int) -> int:
    """Side at which folder images are decoded before a random ``image_size`` crop: ``round(S · 286/256)``."""
    return round(image_size * JITTER_LOAD)


def jitter_batch(images: Sequence[Tensor], size: int, generator: torch.Generator) -> list[Tensor]:
    """Random ``size`` crops, flipped left-right with probability 1/2, of same-sized batches ``(N, C, L, L)``.

    Every tensor in ``images`` gets the *same* crop offsets and flips (a pair stays aligned). Gathered with
    index tensors on the device: no per-image host work.
    """
    first = images[0]
    n, side = first.shape[0], first.shape[-1]
    device = generator.device
    top = torch.randint(side - size + 1, (n,), generator=generator, device=device).to(first.device)
    left = torch.randint(side - size + 1, (n,), generator=generator, device=device).to(first.device)
    flip = (torch.rand(n, generator=generator, device=device) < 0.5).to(first.device)
    offsets = torch.arange(size, device=first.device)
    rows = top[:, None] + offsets  # (N, S)
    cols = left[:, None] + torch.where(flip[:, None], size - 1 - offsets, offsets)
    batch = torch.arange(n, device=first.device)[:, None, None, None]
    out = []
    for x in images:
        channels = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
        out.append(x[batch, channels, rows[:, None, :, None], cols[:, None, None, :]])
    return out


def centre_crop(x: Tensor, size: int) -> Tensor:
    """The central ``size x size`` window of ``(..., H, W)`` images (a no-op when they are ``size`` already)."""
    top = (x.shape[-2] - size) // 2
    left = (x.shape[-1] - size) // 2
    return x[..., top : top + size, left : left + size]
