"""Images from a folder on disk, and the helpers every image data set shares.

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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from gankit.data.base import Dataset, TensorData
from gankit.errors import GankitError, did_you_mean

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_PRELOAD_IMAGES",
    "MAX_PRELOAD_BYTES",
    "ImageData",
    "StreamingImageFolder",
    "build_image_folder",
    "is_image_folder_path",
    "find_images",
    "decode_image",
    "images_to_tensor",
    "resize_images",
    "check_image_options",
    "reject_grayscale",
    "reject_unknown_options",
]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp"})
MAX_PRELOAD_IMAGES = 50_000
MAX_PRELOAD_BYTES = 1 << 30  # decoded float32 tensor size
_SHOWN_BAD_FILES = 3
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


def _to_8bit_mode(img: Image.Image, mode: str) -> Image.Image:
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


def _resize_shorter_side_and_crop(img: Image.Image, size: int) -> Image.Image:
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

    Raises Pillow's/OS errors for unreadable files; :func:`build_image_folder` turns those into a
    ``GankitError`` naming the files.
    """
    with Image.open(source) as img:
        # JPEG only: let the decoder downscale by 1/2..1/8 in the DCT domain while staying >= the
        # target size. Much faster for big photos; the bicubic resize below does the rest.
        img.draft(None, (image_size, image_size))
        img = _to_8bit_mode(img, "RGB" if channels == 3 else "L")
        img = _resize_shorter_side_and_crop(img, image_size)
        array = np.array(img, dtype=np.uint8)  # a writable copy, independent of Pillow's buffer
    return array if array.ndim == 3 else array[:, :, None]


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
