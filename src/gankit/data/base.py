"""What every data set looks like to the training loop.

A data set is a *sampler*: ``sample(n, generator)`` returns ``n`` examples (and their labels, if
any) already on the training device. The loop never iterates epochs or touches the host per step,
which keeps small data sets fast (see the performance issue); large image folders stream instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import Tensor


@dataclass
class Dataset:
    """Base class: a named distribution we can draw batches from.

    Attributes:
        name: registry name (``ring8``, ``mnist``...).
        shape: shape of one example: ``(d,)`` for vectors, ``(C, H, W)`` for images in [-1, 1].
        num_classes: number of labels, 0 when unlabelled.
        device: where ``sample`` puts its tensors.
    """

    name: str
    shape: tuple[int, ...]
    num_classes: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor | None]:
        """Draw ``n`` examples (and labels or ``None``) using ``generator`` for all randomness."""
        raise NotImplementedError


@dataclass
class TensorData(Dataset):
    """A finite data set held as one tensor on the device; batches are drawn with replacement."""

    x: Tensor = None  # type: ignore[assignment]
    y: Tensor | None = None

    def __post_init__(self) -> None:
        self.x = self.x.to(self.device)
        if self.y is not None:
            self.y = self.y.to(self.device)

    def __len__(self) -> int:
        return self.x.shape[0]

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor | None]:
        idx = torch.randint(len(self), (n,), generator=generator, device=generator.device)
        idx = idx.to(self.device)
        return self.x[idx], (self.y[idx] if self.y is not None else None)

    def shard(self, rank: int, world_size: int) -> "TensorData":
        """This rank's share of the examples (every ``world_size``-th, from ``rank``), for multi-process training."""
        return replace(self, x=self.x[rank::world_size], y=self.y[rank::world_size] if self.y is not None else None)
