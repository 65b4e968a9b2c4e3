"""Multi-seed sweeps: train a recipe over many seeds at once and report mean ± standard error.

``run_sweep("wgan-gp", "ring8", seeds=range(10), out=DIR)`` initialises one MLP pair per seed (with
``torch.manual_seed(seed)``, exactly as a single run would), stacks them into one batched model
(:mod:`gankit.nets.ensemble`) and trains them together with the ordinary loop: one run, S
independent GANs. Afterwards each member is written out as its own run directory
(``DIR/seed-N``, usable by ``gankit eval`` / ``generate``) and scored; the summary gives each
metric's mean ± s.e. over seeds, the way PacGAN reports 10 trials.

The members share the data stream of the one run: member s sees different batches than a lone
run with seed s would, so results match single runs in distribution, not bit for bit.
"""

from __future__ import annotations

import copy
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.data import build_from_config, dataset_kind
from gankit.errors import GankitError
from gankit.evaluation import evaluate_run
from gankit.nets import build_networks, resolve_arch
from gankit.nets.ensemble import EnsembleDiscriminator, EnsembleGenerator
from gankit.recipes import resolve_config
from gankit.training.loop import train
from gankit.training.run_dir import RunDir, write_json


@dataclass
class SweepResult:
    seeds: list[int]
    per_seed: list[dict[str, Any]]
    summary: dict[str, dict[str, float]]
    seconds: float


def parse_seeds(text: str) -> list[int]:
    """``"0-9"`` -> 0..9; ``"0,3,7"`` -> [0, 3, 7]; combinations like ``"0-2,5"`` too."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part.strip()[1:]:
                low, high = part.split("-", 1)
                seeds += list(range(int(low), int(high) + 1))
            elif part.strip():
                seeds.append(int(part))
    except ValueError:
        raise GankitError(f"--seeds expects ranges like 0-9 or lists like 0,3,7, got {text!r}") from None
    if len(set(seeds)) != len(seeds) or any(s < 0 for s in seeds):
        raise GankitError(f"--seeds must be distinct non-negative integers, got {text!r}")
    if len(seeds) < 2:
        raise GankitError(f"a sweep needs at least 2 seeds, got {text!r}")
    return seeds


def mean_and_standard_error(values: list[float]) -> dict[str, float]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {"mean": float("nan"), "se": float("nan"), "n": 0}
    se = statistics.stdev(finite) / math.sqrt(len(finite)) if len(finite) > 1 else float("nan")
    return {"mean": statistics.fmean(finite), "se": se, "n": len(finite)}


def seed_members(model: ModelConfig, shape: tuple[int, ...], seeds: list[int]) -> tuple[list[nn.Module], list[nn.Module]]:
    """One freshly initialised (G, D) per seed, each with the weights a single run with that seed starts from."""
    generators, critics = [], []
    for seed in seeds:
        torch.manual_seed(seed)
        g, d = build_networks(model, shape, 0)
        generators.append(g)
        critics.append(d)
    return generators, critics


def seed_ensemble(model: ModelConfig, shape: tuple[int, ...], seeds: list[int]) -> tuple[EnsembleGenerator, EnsembleDiscriminator]:
    """The members of :func:`seed_members` stacked into one batched (G, D) for :func:`gankit.training.loop.train`."""
    generators, critics = seed_members(model, shape, seeds)
    return EnsembleGenerator(generators), EnsembleDiscriminator(critics)


def run_sweep(recipe: str, data: str, seeds: list[int], out: str | Path, overrides: dict[str, Any] | None = None,
              progress: bool | None = None) -> SweepResult:
    out = Path(out)
    if dataset_kind(data) != "vector":
        raise GankitError(f"gankit sweep batches toy MLPs; {data!r} is image data (train its seeds one by one)")
    config = resolve_config(recipe, data, "vector", {**(overrides or {}), "train.seed": seeds[0]})
    if resolve_arch(config.model.arch, (2,)) != "mlp":
        raise GankitError(f"gankit sweep needs model.arch 'mlp', got {config.model.arch!r}")
    if config.model.g_batchnorm or config.model.d_batchnorm or config.model.spectral_norm:
        raise GankitError("gankit sweep: batch norm and spectral norm do not separate over seeds; turn them off")
    shape = build_from_config(config.data, "cpu").shape

    result = train(config, out / "ensemble", progress=progress, networks=seed_ensemble(config.model, shape, seeds))
    trained = result.sampler.cpu().unstack_into(seed_members(config.model, shape, seeds)[0])

    per_seed = []
    for seed, generator in zip(seeds, trained):
        seed_config = copy.deepcopy(config)
        seed_config.train.seed = seed
        run = RunDir(out / f"seed-{seed}")
        run.create(seed_config, {"data_shape": list(shape), "num_classes": 0, "arch": "mlp",
                                 "trained_in": str(result.run_dir)})
        run.save_generator(generator, {"step": result.steps, "ema": config.train.ema > 0, "ensemble_member": seed})
        per_seed.append({"seed": seed, **evaluate_run(run.path)["metrics"]})
    keys = [k for k in per_seed[0] if k not in ("seed", "num_modes")]
    summary = {k: mean_and_standard_error([row[k] for row in per_seed]) for k in keys}
    write_json(out / "sweep.json", {"recipe": recipe, "data": data, "seeds": seeds, "seconds": result.seconds,
                                    "summary": summary, "per_seed": per_seed})
    return SweepResult(seeds, per_seed, summary, result.seconds)
