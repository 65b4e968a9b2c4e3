"""The main job: train several recipes on one toy data set and compare them side by side, then one image GAN.

For each recipe: train with its defaults, evaluate (modes captured, % high-quality samples, W1),
time it; then draw every model's samples in one figure. ``gankit demo`` runs this on the ring of
8 Gaussians with GAN (minimax), NSGAN, WGAN and WGAN-GP. Then (:func:`run_image_demo`) a short DCGAN
run on MNIST, scored by domain FID and the shipped MNIST classifier, and (:func:`run_colour_demo`) one on
the colour emoji at 32 px, scored by Inception FID against the emoji test split. Every run gets its HTML
report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gankit.config import Config
from gankit.data import build_from_config, dataset_kind
from gankit.errors import TrainingStopped
from gankit.evaluation import evaluate_run
from gankit.generation import load
from gankit.progress import runs_bar, wants_progress
from gankit.recipes import resolve_config
from gankit.report import write_report
from gankit.training.harness import resolve_device
from gankit.training.loop import train
from gankit.training.run_dir import write_json
from gankit.training.workers import default_workers, run_jobs

DEFAULT_RECIPES = ("gan", "nsgan", "wgan", "wgan-gp")


@dataclass
class DemoRow:
    recipe: str
    metrics: dict[str, Any]  # of the sampling generator: the EMA weights when the run keeps an EMA
    seconds: float
    run_dir: Path
    final_metrics: dict[str, Any] | None = None  # of the final (raw) weights, for a run with an EMA

    def by_weights(self) -> list[tuple[str, dict[str, Any]]]:
        """``[(weights, metrics), ...]``: "EMA" and "final" for a run with an EMA, else "final" alone."""
        if self.final_metrics is None:
            return [("final", self.metrics)]
        return [("EMA", self.metrics), ("final", self.final_metrics)]


def run_demo(out: Path, data: str = "ring8", recipes: tuple[str, ...] = DEFAULT_RECIPES, seed: int = 0,
             overrides: dict[str, Any] | None = None, progress: bool | None = None,
             workers: int | None = None) -> list[DemoRow]:
    """Train, evaluate and report each recipe on ``data``, then draw their samples side by side.

    The recipes are independent runs: on CPU they train side by side in ``workers`` processes (default: one
    per core, see :func:`gankit.training.workers.default_workers`), one thread each, the longest first; the
    parent then shows one progress bar over all of them. Each run's ``seconds`` is its own training time.
    """
    from gankit import plots

    out = Path(out)
    kind = dataset_kind(data)
    configs = {name: resolve_config(name, data, kind, overrides) for name in recipes}  # validate all first
    for config in configs.values():
        config.train.seed = seed
    if workers is None:
        workers = default_workers(resolve_device(next(iter(configs.values())).train.device), len(configs))
    in_workers = workers > 1 and len(configs) > 1  # as run_jobs decides: then no bars from the runs, one over them
    jobs = [(config, str(out / name), False if in_workers else progress) for name, config in configs.items()]
    # Longest first, so that the workers finish together: a step costs about n_critic + 1 passes.
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i][0].train.steps * (jobs[i][0].train.n_critic + 1))
    with runs_bar([out / name for name in configs], sum(c.train.steps for c in configs.values()),
                  f"{', '.join(configs)} on {data}", in_workers and wants_progress(progress)) as poll:
        try:
            results = run_jobs(_train_and_evaluate, jobs, workers, order=order, poll=poll)
        except TrainingStopped as stopped:
            if not in_workers:
                raise  # train's own message, naming the run
            raise TrainingStopped(f"{stopped.signal_name} received: the demo stopped; the runs under way stopped with a "
                                  f"checkpoint (`gankit train --resume {out}/RECIPE` continues one)", stopped.signal_name) from None
    rows = [DemoRow(name, metrics, seconds, out / name, final) for name, (metrics, final, seconds) in zip(configs, results)]

    # The EMA's samples above the final weights' (what the seeds call mode collapse shows in the raw G: an
    # average of weights that hop between modes samples between them).
    real, _ = build_from_config(next(iter(configs.values())).data, "cpu").sample(2000, torch.Generator().manual_seed(seed))
    panels = []
    for weights in ("EMA", "final"):
        for row in rows:
            metrics = dict(row.by_weights()).get(weights)
            if metrics is None:
                continue
            fake = load(row.run_dir, device="cpu", weights=weights.lower()).generate(2000, seed=seed)
            label = f"{row.recipe} ({weights} weights)"
            if "modes" in metrics:
                label += f": {metrics['modes']}/{metrics['num_modes']} modes, {100 * metrics['hq_fraction']:.0f}% HQ"
            panels.append((label, fake, real))
    plots.scatter_grid(panels, out / "samples.png", ncols=len(rows))
    write_json(out / "summary.json", [{"recipe": r.recipe, "seconds": r.seconds, "run_dir": str(r.run_dir), "weights": w, **m}
                                      for r in rows for w, m in r.by_weights()])
    return rows


def _train_and_evaluate(config: Config, run_dir: str, progress: bool | None) -> tuple[dict[str, Any], dict[str, Any] | None, float]:
    """One recipe of the demo (a module-level function, for worker processes): the metrics of its sampling
    generator and, with an EMA, of its final weights; its training seconds."""
    started = time.perf_counter()
    result = train(config, run_dir, progress=progress)
    seconds = time.perf_counter() - started
    scores = evaluate_run(result.run_dir)
    write_report(result.run_dir)
    return scores["metrics"], scores.get("final", {}).get("metrics"), seconds


# 1200 steps of 32 images: recognisable digits in about a minute on 2 CPU cores (the recipe's default, 8000
# steps, is the full run); 1000 samples are enough to compare FIDs measured the same way.
IMAGE_DEMO = {"recipe": "dcgan", "data": "mnist", "overrides": {"train.steps": 1200, "train.sample_every": 400}}
IMAGE_DEMO_SAMPLES = 1000


# 600 steps of 32 emoji at 32 px (colour faces, blurry still) in about half a minute on 2 CPU cores; Inception
# FID of 200 samples against the 235 test emoji (the Inception pass is most of this stage's time).
COLOUR_DEMO = {"recipe": "dcgan", "data": "emoji", "overrides": {"data.image_size": 32, "train.steps": 600,
                                                                 "train.sample_every": 200}}
COLOUR_DEMO_SAMPLES = 200


def run_image_demo(out: Path, seed: int = 0, steps: int | None = None, progress: bool | None = None) -> DemoRow:
    """Train DCGAN on MNIST briefly; evaluate domain FID and classifier confidence; write its report."""
    return _image_stage(IMAGE_DEMO, ["fid", "classifier"], IMAGE_DEMO_SAMPLES, out, seed, steps, progress)


def run_colour_demo(out: Path, seed: int = 0, steps: int | None = None, progress: bool | None = None,
                    samples: int = COLOUR_DEMO_SAMPLES) -> DemoRow:
    """Train DCGAN on the colour emoji at 32 px briefly; evaluate Inception FID; write its report."""
    return _image_stage(COLOUR_DEMO, ["fid"], samples, out, seed, steps, progress)


def _image_stage(stage: dict[str, Any], metrics: list[str], samples: int, out: Path, seed: int, steps: int | None,
                 progress: bool | None) -> DemoRow:
    overrides = {**stage["overrides"], "train.seed": seed, **({"train.steps": steps} if steps else {})}
    config = resolve_config(stage["recipe"], stage["data"], "image", overrides)
    started = time.perf_counter()
    result = train(config, Path(out) / f"{stage['recipe']}-{stage['data']}", progress=progress)
    seconds = time.perf_counter() - started
    # The table shows the sampling (EMA) weights' scores; the final weights' would double the feature passes.
    scores = evaluate_run(result.run_dir, metrics=metrics, n=samples, progress=progress, score_final=False)["metrics"]
    write_report(result.run_dir)
    return DemoRow(stage["recipe"], scores, seconds, result.run_dir)
