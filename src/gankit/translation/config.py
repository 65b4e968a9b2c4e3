"""Which recipes are image translation (pix2pix, CycleGAN), their per-task defaults, and their config checks.

:func:`resolve_translation_config` layers a translation recipe's settings (:mod:`gankit.recipes`), the
CPU-sized defaults of the shipped task it trains on (:data:`TASK_DEFAULTS`) and the user's overrides, then
refuses keys of the GAN loop that the translation loop (:mod:`gankit.translation.train`) does not do.
"""

from __future__ import annotations

from typing import Any

from gankit.config import Config
from gankit.errors import GankitError

__all__ = [
    "TRANSLATION_RECIPES",
    "TASK_DEFAULTS",
    "DEFAULT_TASKS",
    "is_translation_recipe",
    "resolve_translation_config",
    "check_translation_config",
]

TRANSLATION_RECIPES = {"pix2pix": "paired", "cyclegan": "cycle"}

# What depends on the shipped task rather than the paper: sizes and lengths that train on a CPU in
# minutes (see docs/translation.md for the measurements). Paper-sized nets: --set model.g_hidden=64 ...
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "edges2fashion": {"data.batch_size": 16, "model.g_hidden": 32, "model.d_hidden": 32, "train.steps": 1000},
    "gray2color": {"data.batch_size": 16, "model.g_hidden": 32, "model.d_hidden": 32, "train.steps": 1000},
    # More, smaller steps for the same CPU time: 2700 of 4 -> 80.1% of held-out digits accepted as clothing in
    # 576 s on 2 cores (3000 of 4: 80.6% in 634 s; 1500 of 8: 77.0%; 600 of 8: 70.7%; docs/translation.md).
    "mnist2fashion": {"data.batch_size": 4, "model.g_hidden": 16, "model.d_hidden": 32, "train.steps": 2700},
}
# The data `gankit train RECIPE` uses when no --data is given.
DEFAULT_TASKS = {"pix2pix": "edges2fashion", "cyclegan": "mnist2fashion"}
_CADENCE = {"train.log_every": 50, "train.sample_every": 250, "train.checkpoint_every": 500, "train.eval_samples": 1000}

# Keys of the GAN loop the translation loop has no use for: refuse them rather than ignore them silently.
_UNSUPPORTED = {
    "train.n_critic": lambda c: c.train.n_critic != 1,
    "train.g_steps": lambda c: c.train.g_steps != 1,
    "train.ema": lambda c: c.train.ema > 0,
    "loss.gp_weight": lambda c: c.loss.gp_weight > 0,
    "loss.clip": lambda c: c.loss.clip > 0,
    "loss.instance_noise": lambda c: c.loss.instance_noise > 0,
    "model.spectral_norm": lambda c: c.model.spectral_norm,
    "model.conditional": lambda c: c.model.conditional,
    "train.precision": lambda c: c.train.precision != "fp32",
    "train.compile": lambda c: c.train.compile != "off",
}


def is_translation_recipe(name: str) -> bool:
    """Whether recipe ``name`` trains with :func:`~gankit.translation.train.train_translation` (pix2pix, CycleGAN) rather than the GAN loop."""
    return name in TRANSLATION_RECIPES


def check_translation_recipe(name: str) -> None:
    """GankitError unless ``name`` is a translation recipe."""
    if not is_translation_recipe(name):
        raise GankitError(f"recipe {name!r} is not a translation recipe ({', '.join(TRANSLATION_RECIPES)})")


def resolve_translation_config(recipe: str, data: str, overrides: dict[str, Any] | None = None) -> Config:
    """The config for ``recipe`` on translation data ``data``: recipe < the shipped task's CPU-sized defaults < overrides."""
    from gankit.translation.data import parse_translation_data
    from gankit.recipes import resolve_config

    check_translation_recipe(recipe)
    parse_translation_data(data)  # a one-line error for a malformed data name, before anything else
    layered = {**_CADENCE, **TASK_DEFAULTS.get(data.strip(), {}), **(overrides or {})}
    config = resolve_config(recipe, data.strip(), "image", layered)
    check_translation_config(config)
    return config


def check_translation_config(config: Config) -> None:
    """GankitError naming the first key set to something pix2pix/CycleGAN training does not do."""
    for key, is_set in _UNSUPPORTED.items():
        if is_set(config):
            raise GankitError(f"config key {key!r} is not supported by the translation recipes (pix2pix, cyclegan)")
