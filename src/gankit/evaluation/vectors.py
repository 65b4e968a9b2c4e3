"""Toy-lab metrics of a run on vector data (VEEGAN/PacGAN protocol): modes, % high quality, reverse KL, W1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gankit import __version__
from gankit.data import build_from_config
from gankit.errors import GankitError
from gankit.generation import load
from gankit.metrics.toy import W1_MAX_SAMPLES, toy_metrics

__all__ = ["TOY_METRICS", "MODE_METRICS", "evaluate_vectors", "vector_metrics", "weights_label"]


def weights_label(has_ema: bool, weights: str | None) -> str:
    """What eval.json's protocol says of the weights scored: "EMA weights" or "final weights"."""
    return "EMA weights" if has_ema and weights != "final" else "final weights"

TOY_METRICS = ("modes", "hq_fraction", "reverse_kl", "w1")
MODE_METRICS = ("modes", "hq_fraction", "reverse_kl")


def vector_metrics(metrics: list[str] | None, data_config) -> list[str]:
    """The metrics to compute for a vector run: checked names, or the default set for its data."""
    from gankit.evaluation.images import IMAGE_METRICS

    metrics = metrics or list(TOY_METRICS)
    for metric in metrics:
        if metric in TOY_METRICS:
            continue
        if metric in IMAGE_METRICS:
            raise GankitError(f"metric {metric!r} is for image runs; this run is on vector data {data_config.name!r} "
                              f"(valid: {', '.join(TOY_METRICS)})")
        raise GankitError(f"unknown metric {metric!r} for vector data (valid: {', '.join(TOY_METRICS)})")
    if getattr(build_from_config(data_config, "cpu"), "modes", None) is None and metrics == list(TOY_METRICS):
        metrics = ["w1"]
    return metrics


def evaluate_vectors(run_dir: Path, metrics: list[str], n: int, seed: int, weights: str | None = None) -> dict[str, Any]:
    """Toy-lab metrics (VEEGAN/PacGAN protocol) of a run on vector data (its ``weights``, see :func:`gankit.load`)."""
    trained = load(run_dir, device="cpu", weights=weights)
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
        "generator": weights_label(trained.config.train.ema > 0, weights),
        "gankit_version": __version__,
    }
    return {"metrics": results, "protocol": protocol}
