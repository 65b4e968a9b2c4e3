"""CelebA (Liu et al. 2015): 202,599 aligned celebrity faces, 178x218 JPEGs, cropped and resized to 64x64.

Read from the official aligned images, ``img_align_celeba.zip`` or its extracted folder
``img_align_celeba/`` (files ``000001.jpg`` ... ``202599.jpg``), in ``data.root`` or in gankit's cache
(``$GANKIT_CACHE/celeba``). CelebA has no stable download URL (the authors share it through Google Drive),
so a missing archive is an error that says where to get it.

Each face is centre-cropped to 108x108 and resized (Pillow's bilinear filter) to ``data.image_size``
(default 64), as DCGAN-tensorflow's CelebA pipeline (``center_crop(image, 108, 108, 64, 64)`` with
``scipy.misc.imresize``) and the WGAN-GP code built on it do. Too big to hold in memory at 64 px as floats,
the set *streams*: each batch is decoded from the files the caller's generator picks. The splits are the
official ones, by file number: train 1-162,770, valid 162,771-182,637, test 182,638-202,599.
"""

from __future__ import annotations

import re
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from gankit.data import register
from gankit.data.base import Dataset
from gankit.data.download import Archive, find_or_download
from gankit.data.images import check_image_options, images_to_tensor, reject_grayscale, reject_unknown_options
from gankit.errors import GankitError, unknown

__all__ = ["CELEBA", "CROP", "SPLITS", "CelebAData", "celeba_files", "crop_face", "build_celeba"]

CELEBA = Archive(
    dataset="celeba",
    name="img_align_celeba.zip",
    how="get img_align_celeba.zip (Align&Cropped Images) from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html "
        "and put it there, or set data.root to its folder or to the extracted img_align_celeba/",
)
FOLDER = "img_align_celeba"
CROP = 108
DEFAULT_SIZE = 64
SPLITS = {"train": (1, 162_770), "valid": (162_771, 182_637), "test": (182_638, 202_599), "all": (1, 202_599)}
_NAME = re.compile(r"(\d{6})\.jpg$")


def crop_face(img: Image.Image, size: int) -> np.ndarray:
    """Centre ``CROP`` x ``CROP`` crop (offsets rounded as DCGAN-tensorflow), bilinear resize -> uint8 (size, size, 3)."""
    width, height = img.size
    top, left = round((height - CROP) / 2), round((width - CROP) / 2)
    face = img.convert("RGB").crop((left, top, left + CROP, top + CROP))
    return np.asarray(face.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def _source(root: str | None) -> Path:
    """The zip or the folder of JPEGs that ``root`` (or the cache) holds."""
    if root:
        given = Path(root).expanduser()
        for candidate in (given, given / FOLDER, given / CELEBA.name):
            if candidate.is_file() and candidate.suffix == ".zip":
                return candidate
            if candidate.is_dir() and any(candidate.glob("*.jpg")):
                return candidate
    return find_or_download(CELEBA, root)


def celeba_files(source: Path, split: str) -> list[str]:
    """Sorted names (zip members or file names) of ``split``'s images in the zip or folder ``source``."""
    if split not in SPLITS:
        raise unknown("CelebA split", split, SPLITS)
    if source.is_dir():
        names = [path.name for path in source.glob("*.jpg")]
    else:
        try:
            with zipfile.ZipFile(source) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError) as error:
            raise GankitError(f"corrupt CelebA archive {source}: {error}") from None
    first, last = SPLITS[split]
    chosen = sorted(n for n in names if (m := _NAME.search(n)) and first <= int(m.group(1)) <= last)
    if not chosen:
        raise GankitError(f"CelebA {split}: no images numbered {first:06d}-{last:06d}.jpg in {source}")
    return chosen


@dataclass
class CelebAData(Dataset):
    """CelebA streamed from its zip or folder: ``sample`` decodes the drawn faces (in a thread pool)."""

    source: Path = None  # type: ignore[assignment]
    files: tuple[str, ...] = ()
    image_size: int = DEFAULT_SIZE
    workers: int = 4
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False, compare=False)
    _local: threading.local = field(default_factory=threading.local, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.files)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_pool"], state["_local"] = None, None  # threads and open zips do not pickle
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    def _open(self, name: str):
        if self.source.is_dir():
            return open(self.source / name, "rb")
        if getattr(self._local, "zip", None) is None:  # one handle per thread: reads do not interleave
            self._local.zip = zipfile.ZipFile(self.source)
        return self._local.zip.open(name)

    def decode(self, index: int) -> np.ndarray:
        name = self.files[index]
        try:
            with self._open(name) as file, Image.open(file) as img:
                return crop_face(img, self.image_size)
        except (OSError, SyntaxError, ValueError, zipfile.BadZipFile) as error:
            raise GankitError(f"unreadable CelebA image {name!r} in {self.source}: {error}") from None

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, None]:
        idx = torch.randint(len(self.files), (n,), generator=generator, device=generator.device).cpu()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="gankit-celeba")
        batch = np.stack(list(self._pool.map(self.decode, idx.tolist())))
        return images_to_tensor(batch, self.device), None


@register("celeba", "CelebA aligned faces, centre 108 crop -> 3x64x64 (162,770 train; data.root or cache)",
          kind="image")
def build_celeba(
    device: torch.device | str = "cpu",
    split: str = "train",
    image_size: int | None = None,
    channels: int | None = None,
    root: str | None = None,
    **options,
) -> CelebAData:
    """CelebA's ``split`` on ``device`` as ``(3, S, S)`` in [-1, 1], ``S = image_size`` (default 64)."""
    reject_unknown_options("celeba", options, ("split", "image_size", "channels", "root"))
    check_image_options("celeba", image_size, channels)
    reject_grayscale("celeba", channels)
    size = image_size or DEFAULT_SIZE
    source = _source(root or None)
    return CelebAData(name="celeba", shape=(3, size, size), device=torch.device(device), source=source,
                      files=tuple(celeba_files(source, split)), image_size=size)
