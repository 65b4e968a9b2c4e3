"""The truncation trick's trade-off: sample quality against variety as the latent is cut to ``[-ψ, ψ]``.

BigGAN (Brock et al. 2019, Sec. 3.1, Fig. 17) draws z from N(0, I) truncated to ``|z_i| <= ψ`` at sampling
time: smaller ψ gives more typical samples (higher precision, lower FID up to a point) and less variety (lower
recall, and FID rises again once variety is lost). :func:`truncation_curve` measures FID and improved
precision / recall (Kynkäänniemi et al. 2019) of a run's generator at each ψ and untruncated, against one
set of real features, with one seed: the same noise draws, only cut differently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gankit.errors import GankitError
from gankit.evaluation.images import (
    FEATURE_METRICS, _generate, _run_real_features, check_feature_net, default_feature_net, feature_protocol,
    feature_scores,
)
from gankit.training.run_dir import RunDir

__all__ = ["truncation_curve", "CURVE_METRICS"]

CURVE_METRICS = ("fid", "pr")


def check_psis(psis: list[float]) -> list[float]:
    """Distinct truncations, each > 0, in increasing order."""
    if not psis:
        raise GankitError("a truncation curve needs at least one ψ")
    bad = [p for p in psis if not p > 0]
    if bad:
        raise GankitError(f"truncation ψ must be > 0, got {bad[0]}")
    return sorted(set(float(p) for p in psis))


def truncation_curve(run_dir: str | Path, psis: list[float], n: int | None = None, seed: int = 0,
                     metrics: list[str] | None = None, features: str | None = None, real_split: str | None = None,
                     progress: bool = False, device: torch.device | str = "cpu") -> dict[str, Any]:
    """``{"points": [{"psi", "fid", "precision", "recall"}, ...], "protocol": {...}}`` for an image run.

    One point per ψ in ``psis`` and a last one with ``psi: None`` (no truncation). ``n``: generated samples per
    point and real images (default ``train.eval_samples``). ``metrics``: any of fid, kid, pr, dc (default fid, pr).
    """
    from gankit import __version__
    from gankit.generation import load
    from gankit.metrics.features import extract_features, get_feature_net

    run = RunDir(Path(run_dir))
    config = run.load_config()
    if len(run.load_meta()["data_shape"]) != 3:
        raise GankitError(f"a truncation curve is for image runs; {config.data.name!r} is vector data")
    metrics = list(metrics or CURVE_METRICS)
    unknown = [m for m in metrics if m not in FEATURE_METRICS]
    if unknown:
        raise GankitError(f"metric {unknown[0]!r} has no truncation curve (valid: {', '.join(FEATURE_METRICS)})")
    check_feature_net(features)
    psis = check_psis(psis)
    device = torch.device(device)
    n = n or config.train.eval_samples
    net = get_feature_net(features or default_feature_net(config.data.name), device)
    real, real_protocol = _run_real_features(config.data, real_split, n, net, seed, progress)
    trained = load(run.path, device)
    points = []
    for psi in [*psis, None]:
        fake = extract_features(net, _generate(trained, n, seed, progress, truncation=psi), progress=progress)
        points.append({"psi": psi, **feature_scores(metrics, real, fake, seed)})
    protocol = {"data": config.data.name, "n_fake": n, "fake": f"{n} generator samples per ψ (seed {seed}: the same "
                "uniform draws through each ψ's truncated-normal quantile; psi null = untruncated)", **real_protocol,
                **feature_protocol(metrics, net, real_protocol["n_real"], n), "seed": seed,
                "generator": "EMA weights" if config.train.ema > 0 else "final weights", "device": str(device),
                "gankit_version": __version__}
    return {"points": points, "protocol": protocol}
