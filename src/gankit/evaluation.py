"""Evaluate a run: sample from its generator and score the samples, recording how.

Every result is ``{"metrics": {...}, "protocol": {...}}``: the protocol says what was measured
(sample counts, seed, reference data, gankit version) so a number can be reproduced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gankit import __version__
from gankit.data import build_from_config
from gankit.errors import GankitError
from gankit.generation import load
from gankit.metrics.toy import W1_MAX_SAMPLES, toy_metrics
from gankit.training.run_dir import RunDir, write_json

TOY_METRICS = ("modes", "hq_fraction", "reverse_kl", "w1")
MODE_METRICS = ("modes", "hq_fraction", "reverse_kl")


def evaluate_vectors(run_dir: Path, metrics: list[str], n: int, seed: int) -> dict[str, Any]:
    """Toy-lab metrics (VEEGAN/PacGAN protocol) of a run on vector data."""
    trained = load(run_dir, device="cpu")
    dataset = build_from_config(trained.config.data, "cpu")
    if getattr(dataset, "modes", None) is None:
        asked = [m for m in metrics if m in MODE_METRICS]
        if asked:
            raise GankitError(f"metric {asked[0]!r} needs a mixture data set; {dataset.name!r} has no modes")
    fake = trained.generate(n, seed=seed)
    reference, _ = dataset.sample(n, torch.Generator().manual_seed(seed + 1))
    scores = toy_metrics(fake, dataset, reference)
    results = {k: scores[k] for k in metrics}
    if "num_modes" in scores:
        results["num_modes"] = scores["num_modes"]
    n_w1 = min(n, W1_MAX_SAMPLES)
    protocol = {
        "data": dataset.name,
        "n_samples": n,
        "seed": seed,
        "reference": f"{n} fresh samples of {dataset.name} (seed {seed + 1})",
        "w1": f"exact empirical W1 (POT emd2, Euclidean cost) on the first {n_w1} samples of each set",
        "modes": "VEEGAN/PacGAN: high quality = within 3 std of the nearest mode; a mode is captured by >= 1 HQ sample",
        "generator": "EMA weights" if trained.config.train.ema > 0 else "final weights",
        "gankit_version": __version__,
    }
    return {"metrics": results, "protocol": protocol}


def evaluate_run(run_dir: str | Path, metrics: list[str] | None = None, n: int | None = None, seed: int = 0,
                 json_path: str | Path | None = None) -> dict[str, Any]:
    """Score a run directory; write ``DIR/eval.json`` (and ``json_path`` if given)."""
    run = RunDir(Path(run_dir))
    config = run.load_config()
    meta = run.load_meta()
    n = n or config.train.eval_samples
    if n <= 0:
        raise GankitError(f"--n must be positive, got {n}")
    if len(meta["data_shape"]) != 1:
        raise GankitError(f"evaluating image runs needs the image metrics (data {config.data.name!r})")
    metrics = metrics or [m for m in TOY_METRICS]
    unknown_metrics = [m for m in metrics if m not in TOY_METRICS]
    if unknown_metrics:
        raise GankitError(f"unknown metric {unknown_metrics[0]!r} for vector data (valid: {', '.join(TOY_METRICS)})")
    if getattr(build_from_config(config.data, "cpu"), "modes", None) is None and metrics == list(TOY_METRICS):
        metrics = ["w1"]
    result = evaluate_vectors(run.path, metrics, n, seed)
    write_json(run.path / "eval.json", result)
    if json_path:
        write_json(Path(json_path), result)
    return result
