"""Toy-lab metrics: modes captured, % high-quality samples, reverse KL over modes, and exact W1.

The mode metrics follow VEEGAN (Srivastava et al., 2017) and PacGAN (Lin et al., 2018): assign each
generated sample to its nearest mixture mean; a sample is *high quality* (HQ) when it lies within
3 standard deviations of that mean; a mode is *captured* when at least one HQ sample is assigned to
it; the reverse KL compares the HQ samples' distribution over modes with the uniform target.

W1 is the exact earth mover's distance between the two empirical distributions (POT's network
simplex), the quantity the WGAN critic estimates. All functions take tensors on any device.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from gankit.data.base import Dataset
from gankit.errors import GankitError

# Exact W1 is O(n^3): toy_metrics scores at most this many samples of each set (about 2 s on a CPU).
W1_MAX_SAMPLES = 2000
# Seed of the real reference set toy_metrics draws when none is given, so scores are comparable.
REFERENCE_SEED = 1234


def _as_points(x: Tensor | np.ndarray, what: str) -> Tensor:
    """``x`` as an (n, d) tensor; a 1-D input is n points on the line."""
    x = torch.as_tensor(x)
    if x.dim() == 1:
        x = x[:, None]
    if x.dim() != 2:
        raise GankitError(f"{what} must be an (n, d) array of points, got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise GankitError(f"{what} is empty: need at least one point")
    return x


def mode_statistics(samples: Tensor, modes: Tensor, std: float, hq_radius_std: float = 3.0) -> dict[str, Any]:
    """VEEGAN/PacGAN mode statistics of ``samples`` (N, d) against mixture means ``modes`` (K, d).

    With k(x) = argmin_k ‖x − μ_k‖ and HQ = {x : ‖x − μ_k(x)‖ ≤ hq_radius_std · std}:

    - ``histogram[k]`` = #{x ∈ HQ : k(x) = k}
    - ``modes``        = #{k : histogram[k] ≥ 1}
    - ``hq_fraction``  = |HQ| / N
    - ``reverse_kl``   = KL(q‖p) = Σ_k q_k log(q_k / p_k), q = histogram / |HQ|, p_k = 1/K (PacGAN);
      terms with q_k = 0 contribute 0 (0·log 0 = 0), so KL is log K when all HQ samples sit on one
      mode; with no HQ sample q is undefined and ``reverse_kl`` is ``inf``.

    For a perfect d-dimensional sampler ‖x − μ‖/std ~ chi(d), so ``hq_fraction`` is P(chi(d) ≤ 3),
    e.g. 1 − exp(−9/2) ≈ 0.989 in 2-D (not the 1-D 99.7%).
    """
    x = _as_points(samples, "samples").detach()
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32  # half precision is too coarse here
    x = x.to(dtype)
    mu = _as_points(modes, "modes").detach().to(x.device, dtype)
    if x.shape[1] != mu.shape[1]:
        raise GankitError(f"samples have dimension {x.shape[1]} but the modes have dimension {mu.shape[1]}")
    if not std > 0:
        raise GankitError(f"mode std must be positive, got {std}")
    # Exact differences, not the ‖x‖²+‖μ‖²−2x·μ expansion, which loses precision at std = 0.01.
    distances = torch.cdist(x, mu, compute_mode="donot_use_mm_for_euclid_dist")
    nearest_distance, nearest = distances.min(dim=1)
    high_quality = nearest_distance <= hq_radius_std * std  # NaN samples are never HQ
    histogram = torch.bincount(nearest[high_quality], minlength=mu.shape[0]).cpu()
    num_hq = int(histogram.sum())
    if num_hq == 0:
        reverse_kl = float("inf")
    else:
        q = histogram[histogram > 0].double() / num_hq
        reverse_kl = max(float((q * torch.log(q * mu.shape[0])).sum()), 0.0)  # clamp −1e-17 rounding
    return {
        "modes": int((histogram > 0).sum()),
        "hq_fraction": num_hq / x.shape[0],
        "reverse_kl": reverse_kl,
        "histogram": histogram.tolist(),
    }


def wasserstein1(x: Tensor, y: Tensor) -> float:
    """Exact W1 between the empirical distributions of ``x`` (n, d) and ``y`` (m, d).

    W1 = min_{π ∈ Π(a, b)} Σ_ij π_ij ‖x_i − y_j‖₂ with uniform weights a = 1/n, b = 1/m (n ≠ m is
    fine), solved exactly by POT's ``ot.emd2`` on the Euclidean cost ``ot.dist(x, y, 'euclidean')``
    in float64. The network simplex costs about O(n³) time and O(nm) memory: use at most a few
    thousand points per set (2000 takes ~2 s); subsample both sets uniformly at random for more.
    Note the empirical W1 of two samples of the *same* distribution is positive and shrinks with n.
    """
    a_points = _as_points(x, "x").detach().to("cpu", torch.float64).numpy()
    b_points = _as_points(y, "y").detach().to("cpu", torch.float64).numpy()
    if a_points.shape[1] != b_points.shape[1]:
        raise GankitError(f"W1 needs points of the same dimension, got {a_points.shape[1]} and {b_points.shape[1]}")
    if not (np.isfinite(a_points).all() and np.isfinite(b_points).all()):
        return float("inf")  # a diverged generator's NaN/inf samples are infinitely far
    n, m = len(a_points), len(b_points)
    import ot  # here, not at the top: POT (with the scipy.stats and networkx it loads) takes ~1.5 s to import,
    # which every training process would pay (none needs the exact W1 while it trains)

    cost = ot.dist(a_points, b_points, metric="euclidean")
    # POT's default 1e5 simplex iterations stop short (with only a warning) beyond a few hundred points.
    value = ot.emd2(ot.unif(n), ot.unif(m), cost, numItermax=max(100_000, 100 * n * m))
    return float(value)


def toy_metrics(samples: Tensor, dataset: Dataset, reference: Tensor | None = None,
                w1_max_samples: int = W1_MAX_SAMPLES) -> dict[str, Any]:
    """All toy-lab metrics of generated ``samples`` from ``dataset``.

    Returns ``w1`` (exact W1 against ``reference`` real samples; when ``None``, as many real samples
    as ``samples`` drawn from ``dataset`` with seed ``REFERENCE_SEED``; only the first
    ``w1_max_samples`` of each set are used, see :func:`wasserstein1`), plus, when the data set is a
    mixture (``dataset.modes`` is set): ``modes``, ``num_modes`` (K), ``hq_fraction`` and ``reverse_kl``
    from :func:`mode_statistics` over all samples.
    """
    samples = _as_points(samples, "samples")
    if reference is None:
        generator = torch.Generator(device=dataset.device).manual_seed(REFERENCE_SEED)
        reference, _ = dataset.sample(samples.shape[0], generator)
    results: dict[str, Any] = {}
    modes = getattr(dataset, "modes", None)
    if modes is not None:
        stats = mode_statistics(samples, modes, dataset.mode_std)
        results.update(modes=stats["modes"], num_modes=int(modes.shape[0]),
                       hq_fraction=stats["hq_fraction"], reverse_kl=stats["reverse_kl"])
    reference = _as_points(reference, "reference")
    results["w1"] = wasserstein1(samples[:w1_max_samples], reference[:w1_max_samples])
    return results


__all__ = ["mode_statistics", "wasserstein1", "toy_metrics", "W1_MAX_SAMPLES", "REFERENCE_SEED"]
