"""The config of a run from a recipe, its data and the user's overrides: what ``gankit train`` trains and
``gankit config`` lists.

pix2pix and CycleGAN (:mod:`gankit.training.translation_config`) train on two-domain data, every other
recipe on one data set; :func:`resolve_run_config` picks the right layering and refuses a mismatch, and
checks that need the machine (``model.sync_batchnorm`` needs CUDA) before anything runs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gankit.config import Config
from gankit.errors import GankitError

__all__ = ["default_data", "resolve_run_config", "run_label", "translation_image_size"]


def default_data(recipe: str) -> str:
    """The data ``recipe`` trains on when none is named: ring8, or the translation recipes' shipped task."""
    from gankit.training.translation_config import DEFAULT_TASKS

    return DEFAULT_TASKS.get(recipe, "ring8")


def _is_translation_data(data: str) -> bool:
    """edges2fashion, pairs=DIR, A=X,B=Y (which look like paths when they hold one), unless a folder has that name."""
    from gankit.data import dataset_names
    from gankit.data.paired import is_translation_data

    return data not in dataset_names() and is_translation_data(data) and not Path(data).expanduser().is_dir()


def resolve_run_config(recipe: str, data: str | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """The full config of ``recipe`` on ``data`` (None: :func:`default_data`) with ``overrides`` applied last."""
    from gankit.data import dataset_kind, dataset_names, is_image_folder
    from gankit.data.translation_tasks import TASKS
    from gankit.recipes import get_recipe, resolve_config
    from gankit.training.translation_config import TRANSLATION_RECIPES, is_translation_recipe, resolve_translation_config

    get_recipe(recipe)  # an unknown recipe is reported as such, whatever the data
    data = data or default_data(recipe)
    translation, translation_data = is_translation_recipe(recipe), _is_translation_data(data)
    if translation and not translation_data and (data in dataset_names() or is_image_folder(data)):
        raise GankitError(f"recipe {recipe!r} translates images between two domains, but data {data!r} is a single data set: "
                          f"use {', '.join(TASKS)}, pairs=DIR or A=X,B=Y (see `gankit datasets`)")
    if not translation and translation_data:
        raise GankitError(f"data {data!r} is image-translation data, but recipe {recipe!r} is not a translation recipe: "
                          f"use {' or '.join(TRANSLATION_RECIPES)}")
    if translation:
        config = resolve_translation_config(recipe, data, overrides)
    else:
        config = resolve_config(recipe, data, dataset_kind(data), overrides)
    _check_machine(config)
    return config


def _check_machine(config: Config) -> None:
    """Refuse settings this machine cannot run, before any process starts training."""
    if config.model.sync_batchnorm:
        import torch

        device = config.train.device
        if device.startswith("cpu") or device == "mps" or (device == "auto" and not torch.cuda.is_available()):
            raise GankitError("config key 'model.sync_batchnorm': SyncBatchNorm needs CUDA devices (torch has no CPU version); "
                              "leave it false on CPU")


def translation_image_size(config: Config) -> str:
    """The image side a translation run trains at, in words: ``data.image_size`` or its default for the data."""
    from gankit.data.paired import default_image_size

    size = config.data.image_size or default_image_size(config.data.name)
    if size is None:
        return "images at the data sets' native size (data.image_size=0)"
    how = "data.image_size" if config.data.image_size else "the default; the papers' 256 px: --set data.image_size=256"
    return f"images at {size}x{size} px ({how})"


def run_label(recipe: str, data: str, seed: int) -> str:
    """A folder-friendly name of a run: ``wgan-gp-ring8-s0``, ``pix2pix-pairs-facades-s0``, ``cyclegan-A-horses-B-zebras-s0``."""
    names = (Path(v.strip().rstrip("/")).name for v in re.split(r"[,=]", data))
    label = re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(n for n in names if n)) or "data"
    return f"{recipe}-{label}-s{seed}"
