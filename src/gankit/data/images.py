"""The helpers every image data set shares: in-memory image sets, option checks, and decoding one file.

Pixels are scaled to [-1, 1], ``x = p / 127.5 - 1`` for ``p`` in 0..255, the range of a ``tanh``
generator (Radford et al., 2016). One file becomes a square picture: shorter side resized with
bicubic filtering, then centre-cropped, as DCGAN's LSUN/CelebA pipelines do.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from gankit.data.base import TensorData
from gankit.errors import GankitError, did_you_mean

__all__ = [
    "ImageData",
    "decode_image",
    "images_to_tensor",
    "resize_images",
    "resize_shorter_side_and_crop",
    "to_8bit_mode",
    "check_image_options",
    "reject_grayscale",
    "reject_unknown_options",
]

_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_HIGH_BIT_DEPTH_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})
_RESIZE_CHUNK = 4096  # images per interpolate call: bounds the peak memory of a resize


# ----------------------------------------------------------------------------------------------
# Shared by every image data set (MNIST, Fashion-MNIST, Stacked MNIST, folders)
# ----------------------------------------------------------------------------------------------


@dataclass
class ImageData(TensorData):
    """An in-memory image set: ``x`` is ``(N, C, H, W)`` in [-1, 1], ``y`` int64 labels or ``None``."""

    class_names: tuple[str, ...] = ()


def reject_unknown_options(dataset: str, options: dict, valid: Sequence[str]) -> None:
    """Raise ``GankitError`` naming the first option ``dataset``'s builder does not know."""
    for name in options:
        raise GankitError(f"data set {dataset!r} has no option {name!r}{did_you_mean(name, valid)}")


def check_image_options(dataset: str, image_size: int | None, channels: int | None) -> None:
    """``image_size`` must be a positive int (or ``None``), ``channels`` 1 or 3 (or ``None``)."""
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1):
        raise GankitError(f"image_size for {dataset!r} must be a positive integer, got {image_size!r}")
    if channels is not None and channels not in (1, 3):
        raise GankitError(f"channels for {dataset!r} must be 1 (grayscale) or 3 (RGB), got {channels!r}")


def reject_grayscale(dataset: str, channels: int | None) -> None:
    """A colour data set refuses ``channels=1`` (gankit does not invent a grayscale version)."""
    if channels == 1:
        raise GankitError(f"data set {dataset!r} is colour: channels must be 3 (or 0 for native)")


def resize_images(x: Tensor, size: int) -> Tensor:
    """Resize float images ``(N, C, H, W)`` to ``(N, C, size, size)``: bilinear with antialiasing.

    Antialiasing matters when shrinking (it averages over the source footprint instead of
    point-sampling). Done in chunks so resizing a whole data set does not double its memory peak.
    """
    if x.shape[-2:] == (size, size):
        return x
    out = x.new_empty((x.shape[0], x.shape[1], size, size))
    for start in range(0, x.shape[0], _RESIZE_CHUNK):
        chunk = x[start : start + _RESIZE_CHUNK]
        out[start : start + _RESIZE_CHUNK] = F.interpolate(
            chunk, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
    return out.clamp_(-1.0, 1.0)


def images_to_tensor(
    images: np.ndarray | Tensor,
    device: torch.device | str,
    image_size: int | None = None,
    channels: int | None = None,
) -> Tensor:
    """uint8 images ``(N, H, W)`` or ``(N, H, W, C)`` -> float ``(N, C', S, S)`` on ``device`` in [-1, 1].

    ``x = p / 127.5 - 1``; then an optional square resize (:func:`resize_images`); then grayscale
    is repeated to 3 channels when ``channels=3`` (a stride-0 view: no extra memory).
    """
    x = torch.as_tensor(images)
    if x.dtype != torch.uint8:
        raise TypeError(f"images_to_tensor expects uint8 images, got {x.dtype}")
    x = x.to(device)  # move the uint8 bytes, a quarter of the float size
    x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)
    x = (x.float() / 127.5 - 1.0).contiguous()
    if image_size is not None:
        x = resize_images(x, image_size)
    native = x.shape[1]
    if channels is not None and channels != native:
        if native == 1 and channels == 3:
            x = x.expand(-1, 3, -1, -1)
        else:
            raise GankitError(f"cannot turn {native}-channel images into {channels} channels")
    return x


# ----------------------------------------------------------------------------------------------
# Decoding one image file
# ----------------------------------------------------------------------------------------------


def to_8bit_mode(img: Image.Image, mode: str) -> Image.Image:
    """Convert any Pillow mode to ``mode`` ("RGB" or "L") with 8 bits per channel.

    16-bit grayscale (``I;16``, PNG) is scaled ``p8 = round(p16 * 255 / 65535)`` (Pillow's own
    conversion clips at 255 instead, which turns most 16-bit pictures white). Transparent pixels
    are composited on white, so a transparent background does not turn black.
    """
    if img.mode in _HIGH_BIT_DEPTH_MODES or img.mode == "F":
        values = np.asarray(img, dtype=np.float64)
        if img.mode != "F":
            values = values * (255.0 / 65535.0)
        img = Image.fromarray(np.rint(np.clip(values, 0, 255)).astype(np.uint8))
    if img.mode in _ALPHA_MODES or "transparency" in img.info:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return img.convert(mode) if img.mode != mode else img


def resize_shorter_side_and_crop(img: Image.Image, size: int) -> Image.Image:
    """Scale so the shorter side is ``size`` (bicubic, antialiased by Pillow), then crop the centre square."""
    width, height = img.size
    scale = size / min(width, height)
    new_size = (max(size, round(width * scale)), max(size, round(height * scale)))
    if new_size != img.size:
        img = img.resize(new_size, Image.Resampling.BICUBIC)
    left, top = (new_size[0] - size) // 2, (new_size[1] - size) // 2
    return img.crop((left, top, left + size, top + size))


def decode_image(source: str | os.PathLike | IO[bytes], image_size: int, channels: int = 3) -> np.ndarray:
    """One image file -> uint8 array ``(image_size, image_size, channels)``.

    Raises Pillow's/OS errors for unreadable files; :func:`gankit.data.folders.build_image_folder` turns
    those into a ``GankitError`` naming the files.
    """
    with Image.open(source) as img:
        # JPEG only: let the decoder downscale by 1/2..1/8 in the DCT domain while staying >= the
        # target size. Much faster for big photos; the bicubic resize below does the rest.
        img.draft(None, (image_size, image_size))
        img = to_8bit_mode(img, "RGB" if channels == 3 else "L")
        img = resize_shorter_side_and_crop(img, image_size)
        array = np.array(img, dtype=np.uint8)  # a writable copy, independent of Pillow's buffer
    return array if array.ndim == 3 else array[:, :, None]
