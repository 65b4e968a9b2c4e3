"""Images from a folder on disk (the shared image helpers are in :mod:`gankit.data.images`).

``build_image_folder("photos/", device, image_size=64)`` finds every ``.jpg/.jpeg/.png/.webp``
below ``photos/`` (recursively, hidden files skipped), turns each into a square ``image_size``
picture (shorter side resized with bicubic filtering, then centre-cropped, as DCGAN's LSUN/CelebA
pipelines do) and scales pixels to [-1, 1]: ``x = p / 127.5 - 1`` for ``p`` in 0..255, the range of
a ``tanh`` generator (Radford et al., 2016).

Small sets are decoded once (in a thread pool) into one tensor on the device, so a training step
never touches the host. Sets over :data:`MAX_PRELOAD_IMAGES` images or :data:`MAX_PRELOAD_BYTES` of
decoded floats *stream*: each ``sample`` draws indices with the caller's generator, then decodes
just those files, so batches are still reproducible.

With class subfolders (``root/cat/*.png``, ``root/dog/*.png``) the set is labelled: sorted folder
names are the classes, ids ``0..K-1``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from gankit.data.base import Dataset
from gankit.data.images import ImageData, check_image_options, decode_image, images_to_tensor, reject_unknown_options
from gankit.errors import GankitError

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_PRELOAD_IMAGES",
    "MAX_PRELOAD_BYTES",
    "StreamingImageFolder",
    "build_image_folder",
    "is_image_folder_path",
    "find_images",
]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp"})
MAX_PRELOAD_IMAGES = 50_000
MAX_PRELOAD_BYTES = 1 << 30  # decoded float32 tensor size
_SHOWN_BAD_FILES = 3


# Errors Pillow raises for a bad file: unidentified/truncated (OSError), broken chunks (SyntaxError,
# ValueError, EOFError), absurd dimensions (DecompressionBombError).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def _decode_or_reason(path: Path, image_size: int, channels: int) -> tuple[np.ndarray | None, str | None]:
    try:
        if path.stat().st_size == 0:
            return None, "empty file"
        return decode_image(path, image_size, channels), None
    except _DECODE_ERRORS as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        return None, reason[:100]


def _header_problem(path: Path) -> str | None:
    """Why ``path`` is not an image Pillow can decode, judged from its header alone (fast); None if it looks fine."""
    try:
        if path.stat().st_size == 0:
            return "empty file"
        with Image.open(path) as image:
            if image.width <= 0 or image.height <= 0:
                return "no pixels"
    except _DECODE_ERRORS as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        return reason[:100]
    return None


def _bad_files_error(bad: list[tuple[Path, str]], root: Path) -> GankitError:
    shown = "; ".join(f"{path} ({reason})" for path, reason in bad[:_SHOWN_BAD_FILES])
    more = f"; and {len(bad) - _SHOWN_BAD_FILES} more" if len(bad) > _SHOWN_BAD_FILES else ""
    return GankitError(f"{len(bad)} unreadable image file(s) in {root}: {shown}{more}")


# ----------------------------------------------------------------------------------------------
# Finding files and classes
# ----------------------------------------------------------------------------------------------


def is_image_folder_path(name: str) -> bool:
    """Whether a data set name given by the user means a folder rather than a registry name.

    True for an existing directory and for anything path-like (contains a path separator, or starts
    with ``.`` or ``~``), so a mistyped path reports "folder not found" instead of "unknown dataset".
    """
    name = str(name)
    return (
        os.path.isdir(os.path.expanduser(name))
        or "/" in name
        or os.sep in name
        or name.startswith((".", "~"))
    )


def find_images(root: str | os.PathLike) -> list[Path]:
    """Every image file below ``root`` (recursive, extension case-insensitive, hidden skipped), sorted.

    Nothing is dropped in silence: a folder that cannot be listed, a broken link, or a FIFO or device
    with an image's name is an error naming it (skipping it could quietly remove a class).
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "not found"
        raise GankitError(f"image folder {str(root)!r} {what}")

    def unreadable(error: OSError) -> None:
        raise GankitError(f"cannot read folder {str(error.filename)!r} of image folder {str(root)!r}: "
                          f"{error.strerror or error}")

    files, seen = [], set()
    for folder, folders, names in os.walk(root, onerror=unreadable, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # a link back up the tree: listed once
            folders[:] = []
            continue
        seen.add(real)
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in names:
            path = Path(folder, name)
            if name.startswith("."):  # hidden, like macOS "._photo.jpg" resource forks, which are not images
                continue
            if path.is_symlink() and not path.exists():
                raise GankitError(f"image folder {str(root)!r}: {str(path)!r} is a broken link (or a loop of links)")
            if path.suffix.lower() in IMAGE_EXTENSIONS:
                if not path.is_file():
                    raise GankitError(f"image folder {str(root)!r}: {str(path)!r} is not a regular file")
                files.append(path)
    if not files:
        raise GankitError(
            f"image folder {str(root)!r} has no images ({', '.join(sorted(IMAGE_EXTENSIONS))})"
        )
    return sorted(files)


def _class_labels(root: Path, files: list[Path], labelled: bool | None) -> tuple[list[int] | None, tuple[str, ...]]:
    """Labels from the immediate subfolder of each file, or ``None`` for an unlabelled set.

    ``labelled=None`` decides from the layout: labelled when every image sits in a class subfolder
    and there are at least two classes.
    """
    if labelled is False:
        return None, ()
    top_level = [path.relative_to(root).parts for path in files]
    loose = [files[i] for i, parts in enumerate(top_level) if len(parts) == 1]
    classes = tuple(sorted({parts[0] for parts in top_level if len(parts) > 1}))
    if labelled is None:
        if loose or len(classes) < 2:
            return None, ()
    else:
        if loose:
            raise GankitError(
                f"labelled image folder {str(root)!r} has images outside class subfolders, e.g. {str(loose[0])!r}"
            )
        if len(classes) < 2:
            raise GankitError(
                f"labelled image folder {str(root)!r} needs at least two class subfolders, found {list(classes)}"
            )
    class_id = {name: i for i, name in enumerate(classes)}
    return [class_id[parts[0]] for parts in top_level], classes


# ----------------------------------------------------------------------------------------------
# Data sets
# ----------------------------------------------------------------------------------------------


def _default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


@dataclass
class StreamingImageFolder(Dataset):
    """A folder too big to preload: ``sample`` decodes a random batch from disk.

    Indices come from the caller's generator, and decoding is deterministic, so a seeded run sees
    the same batches. The host work (file reads) is the price of not holding the set in memory.
    """

    files: tuple[Path, ...] = ()
    labels: Tensor | None = None
    image_size: int = 64
    channels: int = 3
    class_names: tuple[str, ...] = ()
    workers: int = field(default_factory=_default_workers)
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.labels is not None:
            self.labels = self.labels.to(self.device)

    def __len__(self) -> int:
        return len(self.files)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_pool"] = None  # threads do not pickle or copy
        return state

    def _decode(self, index: int) -> np.ndarray:
        path = self.files[index]
        array, reason = _decode_or_reason(path, self.image_size, self.channels)
        if array is None:
            raise GankitError(f"unreadable image file {str(path)!r} ({reason})")
        return array

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor | None]:
        idx = torch.randint(len(self.files), (n,), generator=generator, device=generator.device).cpu()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="gankit-images")
        batch = np.stack(list(self._pool.map(self._decode, idx.tolist())))
        x = images_to_tensor(batch, self.device)
        y = self.labels[idx.to(self.labels.device)] if self.labels is not None else None
        return x, y


def build_image_folder(
    path: str | os.PathLike,
    device: torch.device | str = "cpu",
    image_size: int | None = 64,
    channels: int | None = 3,
    labelled: bool | None = None,
    stream: bool | None = None,
) -> ImageData | StreamingImageFolder:
    """The images below ``path`` as a data set of ``(channels, image_size, image_size)`` in [-1, 1].

    Args:
        labelled: ``True`` = immediate subfolders are classes (at least two required);
            ``False`` = no labels; ``None`` = labelled when the layout is class subfolders.
        stream: ``None`` preloads sets up to :data:`MAX_PRELOAD_IMAGES` images and
            :data:`MAX_PRELOAD_BYTES` of float pixels, and streams bigger ones; ``True``/``False`` force.
    """
    image_size = 64 if image_size is None else image_size
    channels = 3 if channels is None else channels
    check_image_options(str(path), image_size, channels)
    root = Path(path).expanduser()
    files = find_images(root)
    labels, class_names = _class_labels(root, files, labelled)
    label_tensor = torch.tensor(labels, dtype=torch.int64) if labels is not None else None
    device = torch.device(device)
    shape = (channels, image_size, image_size)
    decoded_bytes = len(files) * channels * image_size * image_size * 4
    if stream is None:
        stream = len(files) > MAX_PRELOAD_IMAGES or decoded_bytes > MAX_PRELOAD_BYTES

    if stream:  # every file's header is checked now, so a bad one cannot stop training after its first write
        with ThreadPoolExecutor(_default_workers(), thread_name_prefix="gankit-images") as pool:
            reasons = list(pool.map(_header_problem, files))
        bad = [(file, reason) for file, reason in zip(files, reasons) if reason]
        if bad:
            raise _bad_files_error(bad, root)
        return StreamingImageFolder(
            name=str(path), shape=shape, num_classes=len(class_names), device=device,
            files=tuple(files), labels=label_tensor, image_size=image_size, channels=channels,
            class_names=class_names,
        )  # fmt: skip

    pixels = np.empty((len(files), image_size, image_size, channels), dtype=np.uint8)
    bad: list[tuple[Path, str]] = []
    with ThreadPoolExecutor(_default_workers(), thread_name_prefix="gankit-images") as pool:
        results = pool.map(lambda file: _decode_or_reason(file, image_size, channels), files)
        for i, (file, (array, reason)) in enumerate(zip(files, results)):
            if array is None:
                bad.append((file, reason or "unreadable"))
            else:
                pixels[i] = array
    if bad:
        raise _bad_files_error(bad, root)
    return ImageData(
        name=str(path), shape=shape, num_classes=len(class_names), device=device,
        x=images_to_tensor(pixels, device), y=label_tensor, class_names=class_names,
    )  # fmt: skip
