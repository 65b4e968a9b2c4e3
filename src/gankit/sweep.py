"""Multi-seed sweeps: train a recipe over many seeds at once and report mean ± standard error.

``run_sweep("wgan-gp", "ring8", seeds=range(10), out=DIR)`` initialises one MLP pair per seed (with
``torch.manual_seed(seed)``, exactly as a single run would), stacks them into batched models
(:mod:`gankit.nets.ensemble`) and trains them with the ordinary loop: one run, S independent GANs,
per group of seeds. Afterwards each member is written out as its own run directory
(``DIR/seed-N``, usable by ``gankit eval`` / ``generate``) and scored; the summary gives each
metric's mean ± s.e. over seeds, the way PacGAN reports 10 trials.

On CPU the seeds split into groups of consecutive seeds (``workers``; by default one per core), each
group one batched model trained in its own worker process with one share of the threads
(:mod:`gankit.training.workers`): tiny MLPs keep two cores busier side by side than through
intra-op threads. Group ``[a, ..., b]`` trains in ``DIR/ensemble-a-b`` (``DIR/ensemble`` when there
is one group), with ``train.seed`` = its first seed.

The members of a group share the data stream of its run: member s sees different batches than a
lone run with seed s would, so results match single runs in distribution, not bit for bit, and
depend on the grouping (which ``sweep.json`` records); the same seeds, settings and ``workers`` give
the same sweep.

A stopped or killed sweep continues with ``resume_sweep(DIR)`` (``gankit sweep --resume DIR``): every
group goes on from its last checkpoint, exactly as ``gankit train --resume`` continues one run, and
groups already scored are kept. SIGINT or SIGTERM stops every group with a checkpoint of its current
step (:mod:`gankit.training.workers` passes the signal on).
"""

from __future__ import annotations

import contextlib
import copy
import math
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gankit import __version__
from gankit.config import Config, ModelConfig, config_from_dict
from gankit.data import build_from_config, dataset_kind
from gankit.errors import GankitError, TrainingStopped
from gankit.evaluation import evaluate_run
from gankit.nets import build_networks, resolve_arch
from gankit.nets.ensemble import EnsembleDiscriminator, EnsembleGenerator
from gankit.nets.packing import PackedDiscriminator
from gankit.progress import runs_bar, wants_progress
from gankit.recipes import resolve_config
from gankit.training.checkpoint import latest_checkpoint
from gankit.training.harness import resolve_device
from gankit.training.loop import TrainResult, train
from gankit.training.run_dir import RunDir, check_written_version, finite_or_none, hold_directory, read_json, write_json
from gankit.training.workers import default_workers, run_jobs, worker_pool


ENSEMBLE_ARCHS = ("mlp", "pacgan-mlp")  # the vector nets gankit.nets.ensemble can stack
SWEEP_FILE = "sweep.json"  # the plan while the sweep runs, then its results too


@dataclass
class SweepResult:
    seeds: list[int]
    per_seed: list[dict[str, Any]]
    summary: dict[str, dict[str, float]]
    seconds: float  # wall time of training and scoring, worker start-up included (of this call, on a resume)
    workers: int = 1


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
        raise GankitError(f"seeds are ranges like 0-9 or lists like 0,3,7, got {text!r}") from None
    if len(set(seeds)) != len(seeds) or any(s < 0 for s in seeds):
        raise GankitError(f"seeds must be distinct non-negative integers, got {text!r}")
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
    if model.pack > 1:  # the members' packed critics: one ensemble of the inner nets, packed once
        return EnsembleGenerator(generators), PackedDiscriminator(EnsembleDiscriminator([d.inner for d in critics]), model.pack)
    return EnsembleGenerator(generators), EnsembleDiscriminator(critics)


def seed_groups(seeds: list[int], workers: int) -> list[list[int]]:
    """``seeds`` split into ``workers`` runs of consecutive seeds, sizes differing by at most one."""
    if not 1 <= workers <= len(seeds) // 2:
        raise GankitError(f"workers: an ensemble needs at least 2 seeds, so {len(seeds)} seeds allow 1 to "
                          f"{max(1, len(seeds) // 2)} workers, got {workers}")
    size, extra = divmod(len(seeds), workers)
    groups, start = [], 0
    for index in range(workers):
        end = start + size + (index < extra)
        groups.append(seeds[start:end])
        start = end
    return groups


def sweep_workers(config: Config, seeds: list[int], workers: int | None = None) -> int:
    """``workers`` as given (:func:`seed_groups` checks it), or by default one per CPU core with at least 2 seeds
    each (1 on a GPU)."""
    if workers is not None:
        return workers
    return max(1, min(default_workers(resolve_device(config.train.device), len(seeds)), len(seeds) // 2))


def train_seed_group(config: Config, seeds: list[int], run_dir: str | Path, progress: bool | None = None,
                     resume: bool = False) -> TrainResult:
    """``seeds`` trained as one batched model (:func:`seed_ensemble`) by the ordinary loop into ``run_dir``
    (continued from its last checkpoint if ``resume``)."""
    shape = build_from_config(config.data, "cpu").shape
    return train(config, run_dir, resume=resume, progress=progress, networks=seed_ensemble(config.model, shape, seeds))


def _scored_rows(out: Path, seeds: list[int], steps: int) -> list[dict[str, Any]] | None:
    """The metrics rows of ``seeds`` if each ``out/seed-N`` holds a generator of step ``steps`` and its
    eval.json (what an earlier, interrupted call finished), else None."""
    rows = []
    for seed in seeds:
        run = out / f"seed-{seed}"
        if not (run / "eval.json").is_file() or not (run / "generator.json").is_file():
            return None
        if read_json(run / "generator.json").get("step") != steps:
            return None
        rows.append({"seed": seed, **read_json(run / "eval.json")["metrics"]})
    return rows


def _train_and_score(config: Config, seeds: list[int], out: str, name: str, progress: bool | None,
                     resume: bool = False) -> list[dict[str, Any]]:
    """One group of seeds: trained as one batched model in ``out/name``, then each member written to
    ``out/seed-N`` and scored. Returns one metrics row per seed. A module-level function of picklable
    arguments, so that a worker process can run it (scoring, seconds per seed, runs there too).

    ``resume``: a group with a checkpoint continues from it; one that died before its first checkpoint
    starts again (its folder holds nothing a resume could use).
    """
    out_path, group = Path(out), RunDir(Path(out) / name)
    continuing = resume and latest_checkpoint(group.checkpoints) is not None
    if continuing:
        group.save_config(config)  # train.steps may have grown (gankit sweep --resume DIR --steps N)
    elif resume and group.path.exists():
        shutil.rmtree(group.path)
    shape = build_from_config(config.data, "cpu").shape
    result = train_seed_group(config, seeds, group.path, progress, resume=continuing)
    generators = result.sampler.cpu().unstack_into(seed_members(config.model, shape, seeds)[0])
    rows = []
    for seed, generator in zip(seeds, generators):
        seed_config = copy.deepcopy(config)
        seed_config.train.seed = seed
        run = RunDir(out_path / f"seed-{seed}")
        run.create(seed_config, {"data_shape": list(shape), "num_classes": 0, "arch": resolve_arch(config.model.arch, shape),
                                 "trained_in": str(result.run_dir)})
        run.save_generator(generator, {"step": result.steps, "ema": config.train.ema > 0, "ensemble_member": seed})
        rows.append({"seed": seed, **evaluate_run(run.path)["metrics"]})
    return rows


def run_sweep(recipe: str, data: str, seeds: list[int], out: str | Path, overrides: dict[str, Any] | None = None,
              progress: bool | None = None, workers: int | None = None) -> SweepResult:
    """Train ``recipe`` on ``data`` for every seed (in ``workers`` groups, see the module docstring), write
    ``out/seed-N`` per seed and ``out/sweep.json``, and return each seed's metrics and their mean ± s.e.

    ``out/sweep.json`` is written first, as the plan (``"complete": false``), so that :func:`resume_sweep`
    can continue a sweep that was stopped or killed; it gets the results when the sweep completes.
    """
    out = Path(out)
    if dataset_kind(data) != "vector":
        raise GankitError(f"gankit sweep batches toy MLPs; {data!r} is image data (train its seeds one by one)")
    config = resolve_config(recipe, data, "vector", {**(overrides or {}), "train.seed": seeds[0]})
    if resolve_arch(config.model.arch, (2,)) not in ENSEMBLE_ARCHS:
        raise GankitError(f"gankit sweep needs model.arch {' or '.join(map(repr, ENSEMBLE_ARCHS))}, got {config.model.arch!r}")
    if config.model.spectral_norm:
        raise GankitError("gankit sweep: spectral norm does not separate over seeds; turn it off")
    workers = sweep_workers(config, seeds, workers)
    plan = {"recipe": recipe, "data": data, "seeds": seeds, "workers": workers, "groups": seed_groups(seeds, workers),
            "config": config.to_dict(), "gankit_version": __version__, "complete": False}
    with hold_directory(out, "sweep directory"):
        write_json(out / SWEEP_FILE, plan)
        return _run_plan(out, plan, config, progress, resume=False)


def resume_sweep(out: str | Path, steps: int | None = None, progress: bool | None = None) -> SweepResult:
    """Continue the sweep in ``out`` (stopped or killed) with the seeds, groups and config of its plan:
    finished groups are kept, the others continue from their last checkpoints (see :func:`_train_and_score`).
    ``steps`` extends every seed's training to that many steps."""
    out = Path(out)
    path = out / SWEEP_FILE
    if not path.is_file():
        raise GankitError(f"cannot resume {str(out)!r}: no {SWEEP_FILE} (is it a gankit sweep directory?)")
    with hold_directory(out, "sweep directory"):
        return _resume_plan(out, read_json(path), steps, progress)


def _resume_plan(out: Path, plan: Any, steps: int | None, progress: bool | None) -> SweepResult:
    path = out / SWEEP_FILE
    if not isinstance(plan, dict):
        raise GankitError(f"cannot resume {str(out)!r}: {str(path)!r} holds no sweep plan")
    missing = [key for key in ("recipe", "data", "seeds", "workers", "groups", "config") if key not in plan]
    if missing:
        raise GankitError(f"cannot resume {str(out)!r}: {str(path)!r} has no {', '.join(missing)} "
                          "(written by a gankit sweep before resuming existed?)")
    check_written_version(plan.get("gankit_version"), "sweep directory", out)
    config = config_from_dict(plan["config"])
    plan = {key: value for key, value in plan.items() if key not in ("seconds", "summary", "per_seed")}  # the plan alone
    if steps is not None:
        if steps < config.train.steps:
            raise GankitError(f"steps {steps} is fewer than the {config.train.steps} steps the sweep in {str(out)!r} "
                              "was planned with (a resume can extend a sweep, not shorten it)")
        config.train.steps = steps
        plan = {**plan, "config": config.to_dict(), "complete": False}
        write_json(path, plan)
    return _run_plan(out, plan, config, progress, resume=True)


def _run_plan(out: Path, plan: dict[str, Any], config: Config, progress: bool | None, resume: bool) -> SweepResult:
    """Train and score the plan's groups (in its worker processes), then write the results into sweep.json.
    On a resume, groups whose members are all scored at the final step are read back instead."""
    groups, workers = plan["groups"], plan["workers"]
    rows_of: dict[int, list[dict[str, Any]]] = {}
    if resume:
        for index, group in enumerate(groups):
            rows = _scored_rows(out, group, config.train.steps)
            if rows is not None:
                rows_of[index] = rows
    todo = [index for index in range(len(groups)) if index not in rows_of]
    names = ["ensemble" if len(groups) == 1 else f"ensemble-{groups[i][0]}-{groups[i][-1]}" for i in todo]
    jobs = []
    for index, name in zip(todo, names):
        group_config = copy.deepcopy(config)
        group_config.train.seed = groups[index][0]
        # No progress bars from workers; with one group, the bar of `gankit train`.
        jobs.append((group_config, groups[index], str(out), name, progress if len(groups) == 1 else False, resume))
    started = time.perf_counter()
    try:
        # Even one job left runs in a worker when the plan has several: with the same threads as the
        # rest of its training, so that it resumes exactly.
        with worker_pool(workers) if workers > 1 and jobs else contextlib.nullcontext() as pool, \
                runs_bar([out / name for name in names], config.train.steps * len(names),
                         f"{config.recipe} on {config.data.name}, {len(names)} groups", bool(pool) and wants_progress(progress)) as poll:
            # Rows as sweep.json holds them (inf and NaN as None), whether scored now or read back.
            rows_of.update(zip(todo, finite_or_none(run_jobs(_train_and_score, jobs, workers, pool=pool, poll=poll))))
    except (TrainingStopped, KeyboardInterrupt) as stopped:
        name = getattr(stopped, "signal_name", "SIGINT")
        raise TrainingStopped(f"{name} received: the sweep stopped; continue with `gankit sweep --resume {out}` "
                              "(each group from its last checkpoint)", name) from None
    seconds = time.perf_counter() - started
    per_seed = [row for index in range(len(groups)) for row in rows_of[index]]
    keys = [k for k in per_seed[0] if k not in ("seed", "num_modes")]
    summary = {k: mean_and_standard_error([row[k] for row in per_seed]) for k in keys}
    write_json(out / SWEEP_FILE, {**plan, "complete": True, "seconds": seconds, "summary": summary, "per_seed": per_seed})
    return SweepResult(plan["seeds"], per_seed, summary, seconds, workers)
