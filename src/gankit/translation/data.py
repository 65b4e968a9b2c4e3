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

Folder images get pix2pix's "random jitter" (Isola et al. 2017, Sec. 6.2) for training and are preloaded
onto the device or, for big sets, decoded on demand (see :mod:`~gankit.translation.folders`); the
shipped tasks are small centred images and get no jitter. Indices always come from the caller's generator,
so runs stay reproducible.

This module parses the name and builds the set; the pieces live in modules of their own:
:mod:`~gankit.translation.datasets` (the data set classes and their image stores),
:mod:`~gankit.translation.tasks` (the shipped tasks), :mod:`~gankit.translation.folders` (the
user's folders) and :mod:`~gankit.translation.pixels` (conversions, edges, jitter).
"""

from __future__ import annotations

import torch

from gankit.data.images import check_image_options
from gankit.translation.datasets import TranslationData
from gankit.translation.folders import FOLDER_IMAGE_SIZE, build_paired_folders, build_unpaired_domains
from gankit.translation.tasks import TASKS
from gankit.errors import GankitError, did_you_mean

__all__ = ["parse_translation_data", "is_translation_data", "default_image_size", "build_translation_data"]


def parse_translation_data(name: str) -> tuple[str, dict[str, str]]:
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
        parse_translation_data(name)
    except GankitError:
        return False
    return True


def default_image_size(name: str) -> int | None:
    """The side used when ``data.image_size`` is 0: the task's own (32 or 28), :data:`FOLDER_IMAGE_SIZE` (64) for
    folders (the papers' 256 costs 16x the compute); ``None`` for ``A=X,B=Y`` with a gankit data set on either side (its native size is used)."""
    kind, assignments = parse_translation_data(name)
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
    kind, assignments = parse_translation_data(name)
    if kind == "task":
        return TASKS[name.strip()].build(device, split, image_size, channels)
    if kind == "pairs":
        return build_paired_folders(assignments["pairs"], device, split, image_size, channels or 3)
    return build_unpaired_domains(assignments, name, device, split, image_size, channels)
