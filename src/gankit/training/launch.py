"""From a recipe and a data name to a trained run, whichever loop the recipe needs.

The GAN recipes train on one data set with :func:`gankit.training.loop.train`; pix2pix and CycleGAN train
on two-domain data with :func:`gankit.translation.train.train_translation`. This module tells the two
kinds of data apart, picks the default data, builds the config and the run folder's label, and calls the
right loop, so that callers (the CLI, scripts) need not.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gankit.config import Config
from gankit.errors import GankitError
from gankit.translation.config import DEFAULT_TASKS, TRANSLATION_RECIPES, is_translation_recipe, resolve_translation_config

DEFAULT_DATA = "ring8"  # what a GAN recipe trains on when no data is named


def default_data(recipe: str) -> str:
    """The data ``recipe`` trains on when none is named: ring8, or the translation recipe's shipped task."""
    return DEFAULT_TASKS.get(recipe, DEFAULT_DATA)


def resolve_run_config(recipe: str, data: str | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """The config of ``recipe`` on ``data`` (None: :func:`default_data`) with ``overrides`` applied last; what
    ``gankit train`` trains and ``gankit config`` lists. GankitError when the two do not fit together (a
    translation recipe on a single data set, or a GAN recipe on two-domain data) or when the machine cannot
    run a setting (``model.sync_batchnorm`` without CUDA), before anything starts."""
    from gankit.data import dataset_kind, dataset_names, is_image_folder
    from gankit.recipes import get_recipe, resolve_config
    from gankit.translation.data import is_translation_data
    from gankit.translation.tasks import TASKS

    get_recipe(recipe)  # an unknown recipe is reported as such, whatever the data
    data = data or default_data(recipe)
    translation = is_translation_recipe(recipe)
    # edges2fashion, pairs=DIR, A=X,B=Y (which look like paths when they hold one) -- unless a folder has that name.
    translation_data = data not in dataset_names() and is_translation_data(data) and not Path(data).expanduser().is_dir()
    gan_data = not translation_data and (data in dataset_names() or is_image_folder(data))
    if translation and gan_data:
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
            raise GankitError("config key 'model.sync_batchnorm': SyncBatchNorm needs CUDA devices (torch has no CPU "
                              "version); leave it false on CPU")


def run_label(config: Config) -> str:
    """A folder-friendly name of the run: RECIPE-DATA-sSEED, with DATA a folder's name, ``edges2fashion``,
    ``pairs-facades`` or ``A-horses-B-zebras``."""
    data = config.data.name
    if is_translation_recipe(config.recipe):
        names = (Path(v.strip().rstrip("/")).name for v in re.split(r"[,=]", data))
        label = re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(n for n in names if n)) or "data"
    else:
        label = Path(data).name
    return f"{config.recipe}-{label}-s{config.train.seed}"


def train_run(config: Config, run_dir: str | Path, resume: bool = False, progress: bool | None = None):
    """Train ``config`` into ``run_dir`` with the loop its recipe needs; the loop's result."""
    if is_translation_recipe(config.recipe):
        from gankit.translation.train import train_translation

        return train_translation(config, run_dir, resume=resume, progress=progress)
    from gankit.training.loop import train

    return train(config, run_dir, resume=resume, progress=progress)
