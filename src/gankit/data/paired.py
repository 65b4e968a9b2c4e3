"""Two-domain image data for translation: paired (pix2pix) and unpaired (CycleGAN).

A translation data set draws batches ``(a, b)`` of domain-A and domain-B images, ``(N, C, S, S)`` in
[-1, 1] on the training device. *Paired* sets align them (``b[i]`` is the target for ``a[i]``); *unpaired*
sets draw each side independently. ``data.name`` picks the source:

    edges2fashion         paired: edges computed from Fashion-MNIST (A) -> the clothing image (B), 32 px
    gray2color            paired: grayscale (A) -> colour (B) crops of the photos scikit-image ships, 32 px
    mnist2fashion         unpaired: MNIST digits (A) <-> Fashion-MNIST clothing (B), 28 px
    pairs=DIR             paired: DIR holds side-by-side AB images (the pix2pix data sets' format: left half A,
                          right half B), or subfolders DIR/A and DIR/B with matching file names
    pairs=DIR_A,DIR_B     paired: two folders whose files match by name (extension ignored)
    A=X,B=Y               unpaired: X and Y are image folders or gankit image data set names (mnist, ...)

Splits (``data.split``): Fashion-MNIST/MNIST use their official train/test sets; photo crops come from the
left 3/4 of each photo for ``train`` and the right 1/4 for ``test``; folders use ``DIR/train`` and
``DIR/test`` (or ``DIR/val``) when present, CycleGAN's ``trainA``/``testA`` siblings, and otherwise hold
out every 10th file (sorted by name) as ``test``.

Folder images are decoded at a *load size* ``round(S·286/256)`` and, for training, randomly cropped to
``S`` and flipped left-right — the same crop and flip for both images of a pair — the "random jitter" of
pix2pix (Isola et al. 2017, Sec. 6.2) and the reference implementation's default; test images are
decoded at ``S`` directly. The shipped tasks are small centred images and get no jitter.

Everything is preloaded into one uint8 tensor per side on the device unless a side would exceed
:data:`MAX_PRELOAD_BYTES`; then batches are decoded from disk on demand (indices still come from the
caller's generator, so runs stay reproducible).
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from gankit.data.folders import (
    _resize_shorter_side_and_crop,
    _to_8bit_mode,
    check_image_options,
    decode_image,
    find_images,
)
from gankit.errors import GankitError, did_you_mean

__all__ = [
    "TASKS",
    "SKIMAGE_INSTALL",
    "MAX_PRELOAD_BYTES",
    "TranslationData",
    "PairedImages",
    "UnpairedImages",
    "RandomPhotoCrops",
    "is_translation_data",
    "default_image_size",
    "build_translation_data",
    "sobel_edges",
    "grayscale",
    "jitter_batch",
    "load_size",
]

SKIMAGE_INSTALL = "pip install scikit-image==0.26.0"
MAX_PRELOAD_BYTES = 2 << 30  # uint8 pixels of one side kept on the device
JITTER_LOAD = 286 / 256  # pix2pix: resize 256 -> 286, random crop back to 256
HOLDOUT_EVERY = 10  # folders without split subfolders: every 10th file is held out
FOLDER_IMAGE_SIZE = 256  # the reference implementation's crop size
EDGE_THRESHOLD = 0.3  # Sobel magnitude above this fraction of the image's maximum is an edge
PHOTO_SCALE = 4  # photos are scaled so their shorter side is 4 crops long
PHOTO_TRAIN_FRACTION = 0.75  # left 3/4 of each photo trains, the right 1/4 is held out
# The colour photographs in scikit-image's data folder (not its microscopy, charts or logos).
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg")


# ----------------------------------------------------------------------------------------------
# Pixels: conversions, edges, jitter
# ----------------------------------------------------------------------------------------------


def to_float(pixels: Tensor) -> Tensor:
    """uint8 ``(N, C, H, W)`` -> float in [-1, 1] (``p / 127.5 - 1``); float input is returned as is."""
    return pixels.float() / 127.5 - 1.0 if pixels.dtype == torch.uint8 else pixels


def grayscale(rgb: Tensor) -> Tensor:
    """``(N, 3, H, W)`` -> ``(N, 1, H, W)`` luma ``Y = 0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601, as Pillow's "L")."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=rgb.dtype, device=rgb.device)
    return (rgb * weights[None, :, None, None]).sum(dim=1, keepdim=True)


def sobel_edges(images: Tensor, threshold: float = EDGE_THRESHOLD) -> Tensor:
    """Binary edge maps of ``(N, 1, H, W)`` images in [-1, 1]: +1 on edges, -1 elsewhere (white lines on black).

    ``|∇I| = sqrt(G_x² + G_y²)`` with the 3x3 Sobel kernels ``G_x = [1 0 -1; 2 0 -2; 1 0 -1] * I`` and
    ``G_y = G_xᵀ * I`` (replicate padding), on intensities in [0, 1]; a pixel is an edge where ``|∇I|``
    exceeds ``threshold`` times the image's largest magnitude, so faint garments still get outlines.
    """
    x = (images.float() + 1) / 2
    kx = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]], device=x.device)
    kernels = torch.stack([kx, kx.t()])[:, None]  # (2, 1, 3, 3)
    grad = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernels)
    magnitude = grad.pow(2).sum(dim=1, keepdim=True).sqrt()
    peak = magnitude.amax(dim=(2, 3), keepdim=True).clamp_min(1e-8)
    return torch.where(magnitude > threshold * peak, 1.0, -1.0)


def load_size(image_size: int) -> int:
    """Side at which folder images are decoded before a random ``image_size`` crop: ``round(S · 286/256)``."""
    return round(image_size * JITTER_LOAD)


def jitter_batch(images: Sequence[Tensor], size: int, generator: torch.Generator) -> list[Tensor]:
    """Random ``size`` crops, flipped left-right with probability 1/2, of same-sized batches ``(N, C, L, L)``.

    Every tensor in ``images`` gets the *same* crop offsets and flips (a pair stays aligned). Gathered with
    index tensors on the device: no per-image host work.
    """
    first = images[0]
    n, side = first.shape[0], first.shape[-1]
    device = generator.device
    top = torch.randint(side - size + 1, (n,), generator=generator, device=device).to(first.device)
    left = torch.randint(side - size + 1, (n,), generator=generator, device=device).to(first.device)
    flip = (torch.rand(n, generator=generator, device=device) < 0.5).to(first.device)
    offsets = torch.arange(size, device=first.device)
    rows = top[:, None] + offsets  # (N, S)
    cols = left[:, None] + torch.where(flip[:, None], size - 1 - offsets, offsets)
    batch = torch.arange(n, device=first.device)[:, None, None, None]
    out = []
    for x in images:
        channels = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
        out.append(x[batch, channels, rows[:, None, :, None], cols[:, None, None, :]])
    return out


# ----------------------------------------------------------------------------------------------
# Where images come from: memory or files
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
            a, b = _centre_crop(a, self.image_size), _centre_crop(b, self.image_size)
        return to_float(a).to(self.device), to_float(b).to(self.device)

    def examples(self, n: int) -> tuple[Tensor, Tensor]:
        k = min(n, len(self.a), len(self.b))
        index = torch.arange(k)
        return self._finish(self.a.take(index), self.b.take(index), None)


def _centre_crop(x: Tensor, size: int) -> Tensor:
    top = (x.shape[-2] - size) // 2
    left = (x.shape[-1] - size) // 2
    return x[..., top : top + size, left : left + size]


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


class RandomPhotoCrops(TranslationData):
    """Random ``S x S`` crops (flipped left-right half the time) of a few photos: ``a`` = gray(crop), ``b`` = crop.

    A photo is chosen with probability proportional to its number of crop positions, then a position
    uniformly: every position of every photo is equally likely.
    """

    def __init__(self, name: str, photos: Sequence[Tensor], image_size: int, device: torch.device | str = "cpu"):
        super().__init__(name, (1, image_size, image_size), (3, image_size, image_size), True, torch.device(device))
        self.photos = [p.to(self.device) for p in photos]  # uint8 (3, H, W)
        self.image_size = image_size
        positions = [(p.shape[1] - image_size + 1) * (p.shape[2] - image_size + 1) for p in self.photos]
        if min(positions) < 1:
            raise GankitError(f"{name}: a photo is smaller than the {image_size} px crops")
        self.weights = torch.tensor(positions, dtype=torch.float)

    def __len__(self) -> int:
        """Distinct crop positions (before flips)."""
        return int(self.weights.sum().item())

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        device = generator.device
        which = torch.multinomial(self.weights.to(device), n, replacement=True, generator=generator)
        u = torch.rand(n, 3, generator=generator, device=device)
        crops = []
        for k, (i, (uy, ux, uf)) in enumerate(zip(which.tolist(), u.tolist())):  # one host sync per batch
            photo = self.photos[i]
            top = int(uy * (photo.shape[1] - self.image_size + 1))
            left = int(ux * (photo.shape[2] - self.image_size + 1))
            crop = photo[:, top : top + self.image_size, left : left + self.image_size]
            crops.append(crop.flip(-1) if uf < 0.5 else crop)
        b = to_float(torch.stack(crops))
        return grayscale(b), b

    def examples(self, n: int) -> tuple[Tensor, Tensor]:
        return self.sample(n, torch.Generator(device=self.device).manual_seed(0))


# ----------------------------------------------------------------------------------------------
# The shipped tasks
# ----------------------------------------------------------------------------------------------


def _registry_images(name: str, device: torch.device, split: str, image_size: int, channels: int | None) -> Tensor:
    from gankit.data import build_dataset, dataset_info

    if dataset_info(name).kind != "image":
        raise GankitError(f"translation needs image data, but {name!r} is a {dataset_info(name).kind} data set")
    return build_dataset(name, device, split=split, image_size=image_size, channels=channels).x


def _edges2fashion(device: torch.device, split: str, image_size: int, channels: int | None) -> TranslationData:
    if channels not in (None, 1):
        raise GankitError("edges2fashion is grayscale: leave data.channels at 0 (or 1)")
    clothes = _registry_images("fashion-mnist", device, split, image_size, 1)
    edges = torch.cat([sobel_edges(chunk) for chunk in clothes.split(8192)])
    return PairedImages("edges2fashion", TensorStore(edges), TensorStore(clothes), image_size, device=device)


def _mnist2fashion(device: torch.device, split: str, image_size: int, channels: int | None) -> TranslationData:
    digits = _registry_images("mnist", device, split, image_size, channels)
    clothes = _registry_images("fashion-mnist", device, split, image_size, channels)
    return UnpairedImages("mnist2fashion", TensorStore(digits), TensorStore(clothes), image_size, device=device)


def skimage_data_dir() -> Path:
    """scikit-image's ``data`` folder, found without importing scikit-image."""
    spec = importlib.util.find_spec("skimage")
    for location in list(spec.submodule_search_locations or []) if spec is not None else []:
        if (Path(location) / "data" / PHOTOS[0]).is_file():
            return Path(location) / "data"
    raise GankitError(f"gray2color needs the photos shipped with scikit-image: {SKIMAGE_INSTALL}")


@functools.lru_cache(maxsize=4)
def _photo_pixels(image_size: int) -> tuple[np.ndarray, ...]:
    """The photos as uint8 ``(H, W, 3)``, scaled (bicubic) so the shorter side is ``PHOTO_SCALE · image_size``."""
    root = skimage_data_dir()
    short = PHOTO_SCALE * image_size
    photos = []
    for name in PHOTOS:
        with Image.open(root / name) as img:
            img = _to_8bit_mode(img, "RGB")
            scale = short / min(img.size)
            img = img.resize((max(short, round(img.size[0] * scale)), max(short, round(img.size[1] * scale))), Image.Resampling.BICUBIC)
            photos.append(np.array(img, dtype=np.uint8))
    return tuple(photos)


def _photo_regions(image_size: int, split: str) -> list[np.ndarray]:
    """Left ``PHOTO_TRAIN_FRACTION`` of each photo for ``train``, the rest for ``test`` (crops never straddle)."""
    regions = []
    for photo in _photo_pixels(image_size):
        cut = int(photo.shape[1] * PHOTO_TRAIN_FRACTION)
        region = photo[:, :cut] if split == "train" else photo[:, cut:]
        if region.shape[1] < image_size:  # a narrow held-out strip still yields one column of crops
            region = photo[:, -image_size:] if split == "test" else photo[:, :image_size]
        regions.append(region)
    return regions


def _gray2color(device: torch.device, split: str, image_size: int, channels: int | None) -> TranslationData:
    if channels is not None:
        raise GankitError("gray2color maps 1-channel to 3-channel images: leave data.channels at 0")
    regions = [torch.from_numpy(r.copy()).permute(2, 0, 1) for r in _photo_regions(image_size, split)]
    if split == "train":
        return RandomPhotoCrops("gray2color", regions, image_size, device)
    # Held out: a fixed grid of crops (stride S/4) over each photo's right strip.
    stride = max(1, image_size // 4)
    crops = [
        region[:, top : top + image_size, left : left + image_size]
        for region in regions
        for top in range(0, region.shape[1] - image_size + 1, stride)
        for left in range(0, region.shape[2] - image_size + 1, stride)
    ]
    colour = torch.stack(crops).to(device)
    gray = torch.round((grayscale(colour.float()))).clamp(0, 255).to(torch.uint8)
    return PairedImages("gray2color", TensorStore(gray), TensorStore(colour), image_size, device=device)


@dataclass(frozen=True)
class Task:
    name: str
    description: str
    paired: bool
    image_size: int  # default side
    build: Callable[[torch.device, str, int, int | None], TranslationData]


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task("edges2fashion", "Sobel edges of Fashion-MNIST -> the clothing (paired, 1x32x32)", True, 32, _edges2fashion),
        Task("gray2color", "grayscale -> colour crops of scikit-image's photos (paired, 1->3 x32x32)", True, 32, _gray2color),
        Task("mnist2fashion", "MNIST digits <-> Fashion-MNIST clothing (unpaired, 1x28x28)", False, 28, _mnist2fashion),
    )
}


# ----------------------------------------------------------------------------------------------
# Folders
# ----------------------------------------------------------------------------------------------


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
        img = _to_8bit_mode(img, "RGB" if channels == 3 else "L")
        half = img.size[0] // 2
        img = img.crop((side * half, 0, (side + 1) * half, img.size[1]))
        array = np.array(_resize_shorter_side_and_crop(img, size), dtype=np.uint8)
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


def _pairs(spec: str, device: torch.device, split: str, image_size: int, channels: int) -> TranslationData:
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
        return TensorStore(_registry_images(source, device, split, image_size, channels)), False
    if not is_image_folder_path(source) and not Path(source).is_dir():
        raise GankitError(f"unknown data set or folder {source!r}{did_you_mean(source, dataset_names())}")
    jitter = split == "train"
    side = load_size(image_size) if jitter else image_size
    files = _folder_files(Path(source), split)
    decode = functools.partial(decode_image, image_size=side, channels=channels or 3)
    return _preload_or_stream(files, decode, (channels or 3, side, side), device), jitter


def _unpaired(assignments: dict[str, str], spec: str, device: torch.device, split: str, image_size: int | None, channels: int | None) -> TranslationData:
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
    return TensorStore(_centre_crop(store.take(index), size).contiguous())


# ----------------------------------------------------------------------------------------------
# Entry points
# ----------------------------------------------------------------------------------------------


def _parse(name: str) -> tuple[str, dict[str, str]]:
    """``("task", {})``, ``("pairs", {"pairs": spec})`` or ``("unpaired", {"A": x, "B": y})``; GankitError otherwise."""
    name = name.strip()
    if name in TASKS:
        return "task", {}
    if name.startswith("pairs="):
        spec = name[len("pairs="):].strip()
        if not spec:
            raise GankitError("data 'pairs=': give a folder, e.g. pairs=facades or pairs=dirA,dirB")
        return "pairs", {"pairs": spec}
    if name.startswith(("A=", "B=")):
        assignments: dict[str, str] = {}
        for item in name.split(","):
            key, sep, value = item.partition("=")
            if not sep or key.strip() not in ("A", "B") or not value.strip():
                raise GankitError(f"data {name!r}: expected A=dirA,B=dirB (folders or data set names), got {item!r}")
            assignments[key.strip()] = value.strip()
        if set(assignments) != {"A", "B"}:
            raise GankitError(f"data {name!r}: give both domains, e.g. A=horses/,B=zebras/")
        return "unpaired", assignments
    raise GankitError(
        f"unknown translation data {name!r}{did_you_mean(name, TASKS)}; or use pairs=DIR, pairs=DIR_A,DIR_B or A=X,B=Y"
    )


def is_translation_data(name: str) -> bool:
    """Whether ``name`` is a shipped task, ``pairs=...`` or ``A=...,B=...``."""
    try:
        _parse(name)
    except GankitError:
        return False
    return True


def default_image_size(name: str) -> int | None:
    """The side used when ``data.image_size`` is 0: the task's own (32 or 28), 256 for folders (the reference's
    crop size); ``None`` for ``A=X,B=Y`` with a gankit data set on either side (its native size is used)."""
    kind, assignments = _parse(name)
    if kind == "task":
        return TASKS[name.strip()].image_size
    if kind == "unpaired":
        from gankit.data import dataset_names

        if any(source in dataset_names() for source in assignments.values()):
            return None
    return FOLDER_IMAGE_SIZE


def build_translation_data(
    name: str,
    device: torch.device | str = "cpu",
    split: str = "train",
    image_size: int | None = None,
    channels: int | None = None,
) -> TranslationData:
    """The two-domain data set ``name`` (see the module docstring) on ``device``.

    ``image_size`` None = :func:`default_image_size`; ``channels`` None = native (1 for the shipped grayscale
    sets, 3 for folders), else 1 or 3 for both domains.
    """
    if split not in ("train", "test"):
        raise GankitError(f"config key 'data.split': {split!r} must be 'train' or 'test'")
    image_size = image_size or default_image_size(name)
    check_image_options(name, image_size, channels)
    device = torch.device(device)
    kind, assignments = _parse(name)
    if kind == "task":
        return TASKS[name.strip()].build(device, split, image_size, channels)
    if kind == "pairs":
        return _pairs(assignments["pairs"], device, split, image_size, channels or 3)
    return _unpaired(assignments, name, device, split, image_size, channels)
