"""Two-domain data sets for translation and the image stores they draw from.

A :class:`TranslationData` draws batches ``(a, b)`` of domain-A and domain-B images, ``(N, C, S, S)`` in
[-1, 1] on the training device: :class:`PairedImages` aligns them (``b[i]`` is the target for ``a[i]``),
:class:`UnpairedImages` draws each side independently. Each side is an :class:`ImageStore`: a tensor on the
device (:class:`TensorStore`) or files decoded on demand (:class:`FileStore`); indices always come from the
caller's generator, so runs stay reproducible. Which data a name builds: :mod:`gankit.translation.data`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from gankit.translation.pixels import centre_crop, jitter_batch, to_float
from gankit.errors import GankitError

__all__ = ["ImageStore", "TensorStore", "FileStore", "TranslationData", "PairedImages", "UnpairedImages", "registry_images"]


# ----------------------------------------------------------------------------------------------
# Where images come from: memory, files or the data set registry
# ----------------------------------------------------------------------------------------------


class ImageStore:
    """``N`` images of one domain; :meth:`take` returns the chosen ones as ``(k, C, L, L)`` on the device."""

    shape: tuple[int, int, int]

    def __len__(self) -> int:
        raise NotImplementedError

    def take(self, index: Tensor) -> Tensor:
        raise NotImplementedError


class TensorStore(ImageStore):
    """Images held in one tensor (uint8, or float in [-1, 1]) on the device."""

    def __init__(self, images: Tensor):
        self.images = images
        self.shape = tuple(images.shape[1:])

    def __len__(self) -> int:
        return self.images.shape[0]

    def take(self, index: Tensor) -> Tensor:
        return self.images[index.to(self.images.device)]


class FileStore(ImageStore):
    """Images decoded from files on each :meth:`take` (sets too big to preload); ``decode(path) -> (L, L, C) uint8``."""

    def __init__(self, files: Sequence[Path], decode: Callable[[Path], np.ndarray], shape: tuple[int, int, int], device: torch.device):
        self.files = tuple(files)
        self.decode = decode
        self.shape = shape
        self.device = device
        self._pool: ThreadPoolExecutor | None = None

    def __len__(self) -> int:
        return len(self.files)

    def _decode(self, i: int) -> np.ndarray:
        try:
            return self.decode(self.files[i])
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as error:
            raise GankitError(f"unreadable image file {str(self.files[i])!r} ({str(error).splitlines()[0][:100]})") from None

    def take(self, index: Tensor) -> Tensor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max(1, min(8, os.cpu_count() or 1)), thread_name_prefix="gankit-pairs")
        arrays = np.stack(list(self._pool.map(self._decode, index.cpu().tolist())))
        return torch.from_numpy(arrays).to(self.device).permute(0, 3, 1, 2)


def registry_images(name: str, device: torch.device, split: str, image_size: int, channels: int | None) -> Tensor:
    """The images of gankit image data set ``name`` (MNIST, ...) as one tensor on ``device``."""
    from gankit.data import build_dataset, dataset_info

    if dataset_info(name).kind != "image":
        raise GankitError(f"translation needs image data, but {name!r} is a {dataset_info(name).kind} data set")
    return build_dataset(name, device, split=split, image_size=image_size, channels=channels).x


# ----------------------------------------------------------------------------------------------
# Data sets
# ----------------------------------------------------------------------------------------------


@dataclass
class TranslationData:
    """Base class. ``sample(n, generator) -> (a, b)`` on ``device``; ``examples(n)``: the first ``n`` of each side."""

    name: str
    shape_a: tuple[int, int, int]
    shape_b: tuple[int, int, int]
    paired: bool
    device: torch.device

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def examples(self, n: int) -> tuple[Tensor, Tensor]:
        raise NotImplementedError


class _TwoStores(TranslationData):
    """Shared by paired and unpaired sets: two stores, optional random jitter down to ``image_size``."""

    def __init__(self, name: str, a: ImageStore, b: ImageStore, image_size: int, jitter: bool, paired: bool, device: torch.device):
        shape_a = (a.shape[0], image_size, image_size)
        shape_b = (b.shape[0], image_size, image_size)
        super().__init__(name, shape_a, shape_b, paired, torch.device(device))
        self.a, self.b, self.image_size, self.jitter = a, b, image_size, jitter

    def _finish(self, a: Tensor, b: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        if self.jitter and generator is not None:
            if self.paired:
                a, b = jitter_batch([a, b], self.image_size, generator)
            else:
                (a,), (b,) = jitter_batch([a], self.image_size, generator), jitter_batch([b], self.image_size, generator)
        else:  # jittered sets are stored at the load size: centre-crop (a no-op at the crop size)
            a, b = centre_crop(a, self.image_size), centre_crop(b, self.image_size)
        return to_float(a).to(self.device), to_float(b).to(self.device)

    def examples(self, n: int) -> tuple[Tensor, Tensor]:
        k = min(n, len(self.a), len(self.b))
        index = torch.arange(k)
        return self._finish(self.a.take(index), self.b.take(index), None)


class PairedImages(_TwoStores):
    """Aligned pairs: ``a[i]`` -> ``b[i]``; one index draw serves both sides."""

    def __init__(self, name: str, a: ImageStore, b: ImageStore, image_size: int, jitter: bool = False, device: torch.device | str = "cpu"):
        if len(a) != len(b):
            raise GankitError(f"paired data {name!r}: {len(a)} A images but {len(b)} B images")
        super().__init__(name, a, b, image_size, jitter, True, torch.device(device))

    def __len__(self) -> int:
        return len(self.a)

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        index = torch.randint(len(self.a), (n,), generator=generator, device=generator.device)
        return self._finish(self.a.take(index), self.b.take(index), generator)


class UnpairedImages(_TwoStores):
    """Two unrelated sets: each batch draws its A and B images independently."""

    def __init__(self, name: str, a: ImageStore, b: ImageStore, image_size: int, jitter: bool = False, device: torch.device | str = "cpu"):
        super().__init__(name, a, b, image_size, jitter, False, torch.device(device))

    def __len__(self) -> int:
        return min(len(self.a), len(self.b))

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        index_a = torch.randint(len(self.a), (n,), generator=generator, device=generator.device)
        index_b = torch.randint(len(self.b), (n,), generator=generator, device=generator.device)
        return self._finish(self.a.take(index_a), self.b.take(index_b), generator)

