"""Stacked MNIST: three random MNIST digits as the R, G, B channels of one picture, 1000 modes.

The standard mode-collapse benchmark of Metz et al. (Unrolled GANs, 2017), also used by VEEGAN
(Srivastava et al., 2017) and PacGAN (Lin et al., 2018): each channel is an MNIST image drawn
uniformly and independently, so the picture's mode is the digit triple ``(d0, d1, d2)`` with label
``y = 100 d0 + 10 d1 + d2`` in 0..999. A GAN that covers the data should hit all 1000 modes.

Triples are drawn on the fly from the MNIST tensor on the device (60k^3 possible pictures, no
fixed finite set), with the caller's generator, so batches are reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from gankit.data import register
from gankit.data.base import Dataset
from gankit.data.images import check_image_options, images_to_tensor, reject_unknown_options
from gankit.data.mnist import mnist_split
from gankit.errors import GankitError

__all__ = ["StackedMnist", "build_stacked_mnist", "stacked_label"]

NUM_MODES = 1000


def stacked_label(digits: Tensor) -> Tensor:
    """``(..., 3)`` digit triples -> mode ids ``100 d0 + 10 d1 + d2``."""
    return digits[..., 0] * 100 + digits[..., 1] * 10 + digits[..., 2]


@dataclass
class StackedMnist(Dataset):
    """Samples three independent MNIST digits per picture; ``digits`` ``(N, S, S)`` in [-1, 1] on the device."""

    digits: Tensor = None  # type: ignore[assignment]
    digit_labels: Tensor = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.digits = self.digits.to(self.device)
        self.digit_labels = self.digit_labels.to(self.device)

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        idx = torch.randint(self.digits.shape[0], (n, 3), generator=generator, device=generator.device)
        idx = idx.to(self.device)
        x = self.digits[idx.reshape(-1)].reshape(n, 3, *self.digits.shape[1:])
        return x, stacked_label(self.digit_labels[idx])


@register("stacked-mnist", "3 random MNIST digits as RGB, 3x28x28, 1000 modes (Metz et al. 2017)", kind="image")
def build_stacked_mnist(
    device: torch.device | str = "cpu",
    split: str = "train",
    image_size: int | None = None,
    channels: int | None = None,
    **options,
) -> StackedMnist:
    """Stacked MNIST on ``device`` as ``(3, S, S)`` in [-1, 1] (``image_size`` None = 28), labels 0..999."""
    reject_unknown_options("stacked-mnist", options, ("split", "image_size", "channels"))
    check_image_options("stacked-mnist", image_size, channels)
    if channels not in (None, 3):
        raise GankitError(f"stacked-mnist has 3 channels (one digit each), got channels={channels}")
    images, labels = mnist_split(split)
    digits = images_to_tensor(images, device, image_size)[:, 0]
    return StackedMnist(
        name="stacked-mnist", shape=(3, *digits.shape[1:]), num_classes=NUM_MODES, device=torch.device(device),
        digits=digits, digit_labels=torch.from_numpy(labels.astype(np.int64)),
    )  # fmt: skip
