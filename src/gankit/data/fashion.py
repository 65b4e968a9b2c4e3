"""Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017): 70,000 Zalando clothing pictures, 28x28 grayscale.

A drop-in, harder replacement for MNIST: same shapes and split sizes (60k train / 10k test), ten
clothing classes (:data:`CLASS_NAMES`). The files are the original IDX files from Debian's package
``dataset-fashion-mnist`` in :data:`DEFAULT_ROOT` (``{train,t10k}-{images-idx3,labels-idx1}-ubyte``,
gzipped or not).

IDX layout (LeCun's MNIST page): bytes ``0 0 <type> <ndim>``, then ``ndim`` big-endian uint32
dimensions, then the row-major data; type ``0x08`` is unsigned byte.
"""

from __future__ import annotations

import functools
import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

from gankit.data import register
from gankit.data.images import ImageData, check_image_options, images_to_tensor, reject_unknown_options
from gankit.errors import GankitError, unknown

__all__ = ["build_fashion_mnist", "parse_idx", "fashion_split", "CLASS_NAMES", "DEFAULT_ROOT", "FASHION_INSTALL"]

DEFAULT_ROOT = Path("/usr/share/datasets/fashion-mnist")
FASHION_INSTALL = "apt-get install dataset-fashion-mnist"
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
_FILE_PREFIX = {"train": "train", "test": "t10k"}
_UNSIGNED_BYTE = 0x08


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as file:
                return file.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:
        raise GankitError(f"corrupt IDX file {str(path)!r}: {error}") from None


def parse_idx(path: str | Path, ndim: int) -> np.ndarray:
    """An IDX file of unsigned bytes with ``ndim`` dimensions -> uint8 array (validated header and size)."""
    path = Path(path)
    data = _read_bytes(path)
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise GankitError(f"corrupt IDX file {str(path)!r}: {len(data)} bytes is shorter than its header")
    if data[0] != 0 or data[1] != 0 or data[2] != _UNSIGNED_BYTE or data[3] != ndim:
        raise GankitError(
            f"corrupt IDX file {str(path)!r}: magic {data[:4].hex()} is not {_UNSIGNED_BYTE:04x}{ndim:02x} "
            f"(unsigned bytes, {ndim} dimensions)"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64))
    if len(data) - header_size != expected:
        raise GankitError(
            f"corrupt IDX file {str(path)!r}: header says {shape} = {expected} bytes, found {len(data) - header_size}"
        )
    # Copy: an array over the immutable ``bytes`` would be read-only, which torch warns about.
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape).copy()


def _find_file(root: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (root / name).is_file():
            return root / name
    raise GankitError(f"Fashion-MNIST file {str(root / stem)!r}[.gz] not found; install it with: {FASHION_INSTALL}")


@functools.lru_cache(maxsize=4)
def fashion_split(split: str = "train", root: str | Path = DEFAULT_ROOT) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (N, 28, 28), labels uint8 (N,))`` of ``split`` ("train" or "test") under ``root``."""
    if split not in _FILE_PREFIX:
        raise unknown("Fashion-MNIST split", split, _FILE_PREFIX)
    root = Path(root)
    prefix = _FILE_PREFIX[split]
    images_path = _find_file(root, f"{prefix}-images-idx3-ubyte")
    labels_path = _find_file(root, f"{prefix}-labels-idx1-ubyte")
    images, labels = parse_idx(images_path, 3), parse_idx(labels_path, 1)
    if images.shape[0] != labels.shape[0]:
        raise GankitError(
            f"Fashion-MNIST {split}: {str(images_path)!r} has {images.shape[0]} images "
            f"but {str(labels_path)!r} has {labels.shape[0]} labels"
        )
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise GankitError(f"corrupt IDX file {str(labels_path)!r}: label {labels.max()} is not a class (0-9)")
    return images, labels


@register("fashion-mnist", "Fashion-MNIST clothing, 1x28x28, 10 classes (60k train / 10k test)", kind="image")
def build_fashion_mnist(
    device: torch.device | str = "cpu",
    split: str = "train",
    image_size: int | None = None,
    channels: int | None = None,
    root: str | None = None,
    **options,
) -> ImageData:
    """Fashion-MNIST on ``device`` as ``(C, S, S)`` in [-1, 1]; ``root`` overrides :data:`DEFAULT_ROOT`."""
    reject_unknown_options("fashion-mnist", options, ("split", "image_size", "channels", "root"))
    check_image_options("fashion-mnist", image_size, channels)
    images, labels = fashion_split(split, Path(root) if root is not None else DEFAULT_ROOT)
    x = images_to_tensor(images, device, image_size, channels)
    return ImageData(
        name="fashion-mnist", shape=tuple(x.shape[1:]), num_classes=len(CLASS_NAMES), device=torch.device(device),
        x=x, y=torch.from_numpy(labels.astype(np.int64)), class_names=CLASS_NAMES,
    )  # fmt: skip
