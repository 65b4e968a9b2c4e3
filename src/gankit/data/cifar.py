"""CIFAR-10 (Krizhevsky 2009): 60,000 colour photos, 32x32, 10 classes (50k train / 10k test).

Read from the official "python version" tarball ``cifar-10-python.tar.gz`` (or its extracted folder
``cifar-10-batches-py``) in ``data.root``, else from gankit's cache, where it is downloaded from
:data:`CIFAR10.url <CIFAR10>` and checked against the MD5 the dataset page publishes. Inside, the pickles
``data_batch_1`` ... ``data_batch_5`` (train) and ``test_batch`` each hold ``data``, a ``(10000, 3072)``
uint8 array of row-major 32x32 planes (red, green, blue), and ``labels``; they are read with
:mod:`gankit.data.safe_pickle` (numpy arrays only, never code).
"""

from __future__ import annotations

import functools
import tarfile
from pathlib import Path

import numpy as np
import torch

from gankit.data import register
from gankit.data.download import Archive, find_or_download
from gankit.data.images import (
    ImageData, check_image_options, images_to_tensor, reject_grayscale, reject_unknown_options,
)
from gankit.data.safe_pickle import safe_load
from gankit.errors import GankitError, unknown

__all__ = ["CIFAR10", "CLASS_NAMES", "cifar10_split", "build_cifar10"]

CIFAR10 = Archive(
    dataset="cifar10",
    name="cifar-10-python.tar.gz",
    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    md5="c58f30108f718f92721af3b95e74349a",
)
FOLDER = "cifar-10-batches-py"
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
SIDE = 32


def _parse_batch(raw, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One unpickled batch -> ``(uint8 (N, 32, 32, 3), uint8 labels (N,))``."""
    if not isinstance(raw, dict) or "data" not in raw or "labels" not in raw:
        raise GankitError(f"corrupt CIFAR-10 batch {where}: expected a dict with 'data' and 'labels'")
    data, labels = np.asarray(raw["data"]), np.asarray(raw["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * SIDE * SIDE or len(labels) != len(data):
        raise GankitError(f"corrupt CIFAR-10 batch {where}: data {data.dtype}{list(data.shape)}, "
                          f"{len(labels)} labels (expected uint8 (N, 3072) and N labels)")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise GankitError(f"corrupt CIFAR-10 batch {where}: labels outside 0-9")
    return data.reshape(-1, 3, SIDE, SIDE).transpose(0, 2, 3, 1), labels.astype(np.uint8)


def _read_batches(path: Path, names: tuple[str, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    if path.is_dir():
        missing = [name for name in names if not (path / name).is_file()]
        if missing:
            raise GankitError(f"CIFAR-10 folder {path} lacks {', '.join(missing)}")
        batches = []
        for name in names:
            with open(path / name, "rb") as file:
                batches.append(_parse_batch(safe_load(file), str(path / name)))
        return batches
    try:
        with tarfile.open(path, "r:gz") as tar:
            batches = []
            for name in names:
                try:
                    member = tar.extractfile(f"{FOLDER}/{name}")
                except KeyError:
                    raise GankitError(f"CIFAR-10 archive {path} lacks {FOLDER}/{name}") from None
                batches.append(_parse_batch(safe_load(member), f"{path}:{name}"))
            return batches
    except (tarfile.TarError, OSError, EOFError) as error:
        raise GankitError(f"corrupt CIFAR-10 archive {path}: {error}") from None


def _locate(root: str | None) -> Path:
    """The extracted folder or the tarball: ``root`` may name either, or the folder holding them."""
    if root:
        given = Path(root).expanduser()
        if given.is_file() or (given.is_dir() and given.name == FOLDER):
            return given
        if (given / FOLDER).is_dir():
            return given / FOLDER
    return find_or_download(CIFAR10, root)


@functools.lru_cache(maxsize=2)
def cifar10_split(split: str = "train", root: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (N, 32, 32, 3), labels uint8 (N,))`` of ``split`` ("train" or "test")."""
    if split not in BATCHES:
        raise unknown("CIFAR-10 split", split, BATCHES)
    batches = _read_batches(_locate(root), BATCHES[split])
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


@register("cifar10", "CIFAR-10 photos, 3x32x32, 10 classes (50k train / 10k test; downloaded, or data.root)",
          kind="image")
def build_cifar10(
    device: torch.device | str = "cpu",
    split: str = "train",
    image_size: int | None = None,
    channels: int | None = None,
    root: str | None = None,
    **options,
) -> ImageData:
    """CIFAR-10 on ``device`` as ``(C, S, S)`` in [-1, 1]."""
    reject_unknown_options("cifar10", options, ("split", "image_size", "channels", "root"))
    check_image_options("cifar10", image_size, channels)
    reject_grayscale("cifar10", channels)
    images, labels = cifar10_split(split, root or None)
    x = images_to_tensor(images, device, image_size, channels)
    return ImageData(
        name="cifar10", shape=tuple(x.shape[1:]), num_classes=len(CLASS_NAMES), device=torch.device(device),
        x=x, y=torch.from_numpy(labels.astype(np.int64)), class_names=CLASS_NAMES,
    )  # fmt: skip
