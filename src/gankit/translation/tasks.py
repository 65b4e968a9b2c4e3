"""The translation tasks gankit ships, built from data it already has (no download beyond the data sets):

    edges2fashion   paired: Sobel edges of Fashion-MNIST (A) -> the clothing image (B), 32 px
    gray2color      paired: grayscale (A) -> colour (B) crops of the photos scikit-image ships, 32 px
    mnist2fashion   unpaired: MNIST digits (A) <-> Fashion-MNIST clothing (B), 28 px

Fashion-MNIST and MNIST use their official train/test splits. gray2color's training set is
:class:`RandomPhotoCrops` of the left 3/4 of each photo; its test set a fixed grid of crops of the right 1/4.
These are small centred images and get no random jitter.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from gankit.data.images import to_8bit_mode
from gankit.translation.datasets import PairedImages, TensorStore, TranslationData, UnpairedImages, registry_images
from gankit.translation.pixels import grayscale, sobel_edges, to_float
from gankit.errors import GankitError

__all__ = ["TASKS", "Task", "SKIMAGE_INSTALL", "PHOTOS", "RandomPhotoCrops", "skimage_data_dir"]

SKIMAGE_INSTALL = "pip install scikit-image==0.26.0"
PHOTO_SCALE = 4  # photos are scaled so their shorter side is 4 crops long
PHOTO_TRAIN_FRACTION = 0.75  # left 3/4 of each photo trains, the right 1/4 is held out
# The colour photographs in scikit-image's data folder (not its microscopy, charts or logos).
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg")


def _edges2fashion(device: torch.device, split: str, image_size: int, channels: int | None) -> TranslationData:
    if channels not in (None, 1):
        raise GankitError("edges2fashion is grayscale: leave data.channels at 0 (or 1)")
    clothes = registry_images("fashion-mnist", device, split, image_size, 1)
    edges = torch.cat([sobel_edges(chunk) for chunk in clothes.split(8192)])
    return PairedImages("edges2fashion", TensorStore(edges), TensorStore(clothes), image_size, device=device)


def _mnist2fashion(device: torch.device, split: str, image_size: int, channels: int | None) -> TranslationData:
    digits = registry_images("mnist", device, split, image_size, channels)
    clothes = registry_images("fashion-mnist", device, split, image_size, channels)
    return UnpairedImages("mnist2fashion", TensorStore(digits), TensorStore(clothes), image_size, device=device)


# ----------------------------------------------------------------------------------------------
# gray2color: crops of scikit-image's photos
# ----------------------------------------------------------------------------------------------


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
            img = to_8bit_mode(img, "RGB")
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


# ----------------------------------------------------------------------------------------------
# The registry of tasks
# ----------------------------------------------------------------------------------------------


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
