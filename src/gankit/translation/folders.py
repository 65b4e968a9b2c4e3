"""Translation data from the user's folders: ``pairs=DIR``, ``pairs=DIR_A,DIR_B`` and ``A=X,B=Y``.

    pairs=DIR          paired: DIR holds side-by-side AB images (the pix2pix data sets' format: left half A,
                       right half B), or subfolders DIR/A and DIR/B with matching file names
    pairs=DIR_A,DIR_B  paired: two folders whose files match by name (extension ignored)
    A=X,B=Y            unpaired: X and Y are image folders or gankit image data set names (mnist, ...)

Splits: ``DIR/train`` and ``DIR/test`` (or ``DIR/val``) when present, CycleGAN's ``trainA``/``testA``
siblings, and otherwise every 10th file (sorted by name) held out as ``test``.

Folder images are decoded at a *load size* ``round(S·286/256)`` and, for training, randomly cropped to
``S`` and flipped left-right — the same crop and flip for both images of a pair — the "random jitter" of
pix2pix (Isola et al. 2017, Sec. 6.2) and the reference implementation's default; test images are
decoded at ``S`` directly. A side is preloaded into one uint8 tensor on the device unless it would exceed
:data:`MAX_PRELOAD_BYTES`; then its batches are decoded from disk on demand.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit.data.folders import find_images
from gankit.data.images import decode_image, resize_shorter_side_and_crop, to_8bit_mode
from gankit.translation.datasets import FileStore, ImageStore, PairedImages, TensorStore, TranslationData, UnpairedImages, registry_images
from gankit.translation.pixels import centre_crop, load_size
from gankit.errors import GankitError, did_you_mean

__all__ = ["MAX_PRELOAD_BYTES", "HOLDOUT_EVERY", "FOLDER_IMAGE_SIZE", "build_paired_folders", "build_unpaired_domains"]

MAX_PRELOAD_BYTES = 2 << 30  # uint8 pixels of one side kept on the device
HOLDOUT_EVERY = 10  # folders without split subfolders: every 10th file is held out
# The side folder images are trained at unless data.image_size says otherwise: 64 px, where a CycleGAN step
# (batch 1, 6 residual blocks) takes well under a second on 2 CPU cores; the papers' and the reference
# implementation's 256 px (6 s a step there) is `--set data.image_size=256`.
FOLDER_IMAGE_SIZE = 64


def _split_dir(root: Path, split: str) -> Path | None:
    """``root/train`` for train; ``root/test`` (else ``root/val``) for test; None when ``root`` has no split folders."""
    if not (root / "train").is_dir():
        return None
    for name in ("train",) if split == "train" else ("test", "val"):
        if (root / name).is_dir():
            return root / name
    raise GankitError(f"folder {str(root)!r} has a train/ subfolder but no test/ or val/ for data.split=test")


def _holdout(files: list[Path], split: str) -> list[Path]:
    """Every ``HOLDOUT_EVERY``-th file (sorted) is ``test``; the rest ``train`` (a single file serves both)."""
    if len(files) < 2:
        return files
    test = [f for i, f in enumerate(files) if i % HOLDOUT_EVERY == HOLDOUT_EVERY - 1] or files[-1:]
    held_out = set(test)
    return test if split == "test" else [f for f in files if f not in held_out]


def _folder_files(root: Path, split: str) -> list[Path]:
    """The images of ``split`` under ``root`` (split subfolders, CycleGAN's trainX/testX siblings, or hold-out)."""
    root = Path(root).expanduser()
    if root.name.startswith("train") and split == "test":
        sibling = root.with_name("test" + root.name[len("train"):])
        if sibling.is_dir():
            return find_images(sibling)
    split_root = _split_dir(root, split) if root.is_dir() else None
    if split_root is not None:
        return find_images(split_root)
    return _holdout(find_images(root), split)


def _preload_or_stream(files: Sequence[Path], decode: Callable[[Path], np.ndarray], shape: tuple[int, int, int], device: torch.device) -> ImageStore:
    if len(files) * int(np.prod(shape)) > MAX_PRELOAD_BYTES:
        return FileStore(files, decode, shape, device)
    with ThreadPoolExecutor(max(1, min(8, os.cpu_count() or 1)), thread_name_prefix="gankit-pairs") as pool:
        store = FileStore(files, decode, shape, device)
        arrays = list(pool.map(store._decode, range(len(files))))
    return TensorStore(torch.from_numpy(np.stack(arrays)).to(device).permute(0, 3, 1, 2).contiguous())


def _decode_half(path: Path, side: int, size: int, channels: int) -> np.ndarray:
    """Left (``side=0``) or right (``side=1``) half of a side-by-side AB image, as ``(size, size, channels)`` uint8."""
    with Image.open(path) as img:
        img = to_8bit_mode(img, "RGB" if channels == 3 else "L")
        half = img.size[0] // 2
        img = img.crop((side * half, 0, (side + 1) * half, img.size[1]))
        array = np.array(resize_shorter_side_and_crop(img, size), dtype=np.uint8)
    return array if array.ndim == 3 else array[:, :, None]


def _match_by_name(files_a: list[Path], root_a: Path, files_b: list[Path], root_b: Path) -> tuple[list[Path], list[Path]]:
    """Pair files whose paths relative to their roots agree up to the extension; GankitError on any mismatch."""
    key_a = {f.relative_to(root_a).with_suffix("").as_posix(): f for f in files_a}
    key_b = {f.relative_to(root_b).with_suffix("").as_posix(): f for f in files_b}
    only = sorted(set(key_a) ^ set(key_b))
    if only:
        where = str(root_a) if only[0] in key_a else str(root_b)
        raise GankitError(f"paired folders {str(root_a)!r} and {str(root_b)!r} do not match: {only[0]!r} is only in {where!r}"
                          f" ({len(only)} unmatched name(s))")
    keys = sorted(key_a)
    return [key_a[k] for k in keys], [key_b[k] for k in keys]


def _folder_roots(root: Path, split: str) -> Path:
    split_root = _split_dir(root, split)
    return split_root if split_root is not None else root


def build_paired_folders(spec: str, device: torch.device, split: str, image_size: int, channels: int) -> TranslationData:
    """``pairs=spec``: side-by-side AB images in one folder, or two folders (``DIR/A`` + ``DIR/B``, ``DIR_A,DIR_B``)."""
    jitter = split == "train"
    side = load_size(image_size) if jitter else image_size
    shape = (channels, side, side)
    parts = [Path(p.strip()).expanduser() for p in spec.split(",")]
    if len(parts) == 1 and (parts[0] / "A").is_dir() and (parts[0] / "B").is_dir():
        parts = [parts[0] / "A", parts[0] / "B"]
    if len(parts) == 2:  # two folders, files matched by name
        root_a, root_b = (_folder_roots(p, split) for p in parts)
        files_a, files_b = _match_by_name(find_images(root_a), root_a, find_images(root_b), root_b)
        if _split_dir(parts[0], split) is None:
            files_a, files_b = _holdout(files_a, split), _holdout(files_b, split)
        decode = functools.partial(decode_image, image_size=side, channels=channels)
        a, b = (_preload_or_stream(f, decode, shape, device) for f in (files_a, files_b))
    elif len(parts) == 1:  # side-by-side AB images
        files = _folder_files(parts[0], split)
        a = _preload_or_stream(files, functools.partial(_decode_half, side=0, size=side, channels=channels), shape, device)
        b = _preload_or_stream(files, functools.partial(_decode_half, side=1, size=side, channels=channels), shape, device)
    else:
        raise GankitError(f"data 'pairs={spec}': give one folder of side-by-side AB images or two folders DIR_A,DIR_B")
    return PairedImages(f"pairs={spec}", a, b, image_size, jitter=jitter, device=device)


def _one_domain(source: str, device: torch.device, split: str, image_size: int, channels: int | None) -> tuple[ImageStore, bool]:
    """A registry image set or a folder, as a store; and whether it came from a folder (gets jitter)."""
    from gankit.data import dataset_names
    from gankit.data.folders import is_image_folder_path

    if source in dataset_names():
        return TensorStore(registry_images(source, device, split, image_size, channels)), False
    if not is_image_folder_path(source) and not Path(source).is_dir():
        raise GankitError(f"unknown data set or folder {source!r}{did_you_mean(source, dataset_names())}")
    jitter = split == "train"
    side = load_size(image_size) if jitter else image_size
    files = _folder_files(Path(source), split)
    decode = functools.partial(decode_image, image_size=side, channels=channels or 3)
    return _preload_or_stream(files, decode, (channels or 3, side, side), device), jitter


def build_unpaired_domains(
    assignments: dict[str, str], spec: str, device: torch.device, split: str, image_size: int | None, channels: int | None
) -> TranslationData:
    """``A=X,B=Y`` (``assignments = {"A": X, "B": Y}``): each side a folder or a gankit image data set."""
    from gankit.data import dataset_names

    # Gankit data sets first: with no image_size given, their native size sets the folders' size too.
    order = sorted("AB", key=lambda k: assignments[k] not in dataset_names())
    stores: dict[str, tuple[ImageStore, bool]] = {}
    for key in order:
        stores[key] = _one_domain(assignments[key], device, split, image_size, channels)
        image_size = image_size or stores[key][0].shape[-1]
    (a, jitter_a), (b, jitter_b) = stores["A"], stores["B"]
    if a.shape[-1] != b.shape[-1] and not (jitter_a or jitter_b):
        raise GankitError(f"data {spec!r}: A is {a.shape[-1]} px but B is {b.shape[-1]} px; set data.image_size")
    if jitter_a != jitter_b:  # a folder against a gankit data set: both at the crop size, no jitter
        a, b = (_preload_at(s, image_size) if j else s for s, j in ((a, jitter_a), (b, jitter_b)))
    return UnpairedImages(spec, a, b, image_size, jitter=jitter_a and jitter_b, device=device)


def _preload_at(store: ImageStore, size: int) -> ImageStore:
    """A load-size store turned into centre crops of ``size`` (used when only one side may jitter)."""
    index = torch.arange(len(store))
    return TensorStore(centre_crop(store.take(index), size).contiguous())
