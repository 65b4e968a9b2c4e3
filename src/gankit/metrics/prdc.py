"""Precision, recall, density and coverage: fidelity and diversity as two separate numbers.

Each real feature ``x_i`` gets a ball ``B(x_i, NND_k(x_i))`` whose radius is the distance to its
k-th nearest other real feature; the union of the balls estimates the real manifold (likewise for
the fakes ``y_j``). With ``1(.)`` the indicator, N reals and M fakes:

* precision = (1/M) sum_j 1(y_j in some real ball)        (Kynkäänniemi et al., 2019, k = 3)
* recall    = (1/N) sum_i 1(x_i in some fake ball)
* density   = 1/(kM) sum_j sum_i 1(y_j in B(x_i, NND_k(x_i)))  (Naeem et al., 2020, k = 5)
* coverage  = (1/N) sum_i 1(the nearest fake to x_i lies in B(x_i, NND_k(x_i)))

Precision and recall count a point on a ball's boundary as inside (``<=``, Kynkäänniemi et al.'s
code); density and coverage do not (``<``, Naeem et al.'s code). For two samples of one
distribution E[density] = 1 and E[coverage] = 1 - prod_{i=1..k} (N - i) / (N + M - i) exactly
(Naeem et al., 2020, sec. 4), whatever the distribution.

Distances are computed in chunks (never the whole N x M matrix) on the device of the inputs, in
float32 unless the inputs are float64.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import GankitError

__all__ = ["precision_recall", "density_coverage", "prdc", "kth_neighbour_distances"]

# Elements of one chunk of the distance matrix (16M floats = 64 MB in float32).
CHUNK_ELEMENTS = 1 << 24


def _prepare(real: Tensor, fake: Tensor, k: int) -> tuple[Tensor, Tensor]:
    real, fake = torch.as_tensor(real), torch.as_tensor(fake)
    for name, x in (("real", real), ("fake", fake)):
        if x.dim() != 2:
            raise GankitError(f"{name} features must be a (N, dim) matrix, got shape {tuple(x.shape)}")
    if real.shape[1] != fake.shape[1]:
        raise GankitError(f"real and fake feature dims differ ({real.shape[1]} vs {fake.shape[1]})")
    if k < 1 or k >= min(real.shape[0], fake.shape[0]):
        raise GankitError(f"k={k} must be in [1, {min(real.shape[0], fake.shape[0]) - 1}] "
                          f"for {real.shape[0]} real and {fake.shape[0]} fake features")
    dtype = torch.float64 if real.dtype == torch.float64 else torch.float32
    real = real.to(dtype)
    fake = fake.to(device=real.device, dtype=dtype)
    # Distances are translation invariant; centring shrinks the norms in |a|^2 + |b|^2 - 2ab and so
    # the cancellation error of the matrix-product form.
    centre = real.mean(0)
    return real - centre, fake - centre


def _squared_distances(a: Tensor, b: Tensor, b_norms: Tensor) -> Tensor:
    """``||a_i - b_j||^2`` as ``|a_i|^2 + |b_j|^2 - 2 a_i.b_j`` (one matrix product), clamped at 0."""
    return (a.square().sum(1, keepdim=True) + b_norms - 2 * (a @ b.T)).clamp_(min=0)


def _chunk_rows(columns: int) -> int:
    return max(1, CHUNK_ELEMENTS // max(columns, 1))


def _kth_neighbour_sq(features: Tensor, k: int) -> Tensor:
    norms = features.square().sum(1)
    radii = torch.empty(features.shape[0], dtype=features.dtype, device=features.device)
    step = _chunk_rows(features.shape[0])
    for start in range(0, features.shape[0], step):
        d2 = _squared_distances(features[start:start + step], features, norms)
        # the point itself is at distance 0, so the k-th other point is the (k+1)-th smallest
        radii[start:start + step] = d2.topk(k + 1, dim=1, largest=False).values[:, k]
    return radii


def kth_neighbour_distances(features: Tensor, k: int) -> Tensor:
    """``NND_k``: distance from each row of ``(N, dim)`` features to its k-th nearest other row."""
    features = torch.as_tensor(features)
    if features.dim() != 2 or not 1 <= k < features.shape[0]:
        raise GankitError(f"kth_neighbour_distances: need (N, dim) features with 1 <= k < N, "
                          f"got shape {tuple(features.shape)} and k={k}")
    dtype = torch.float64 if features.dtype == torch.float64 else torch.float32
    features = features.to(dtype)
    return _kth_neighbour_sq(features - features.mean(0), k).sqrt()


def prdc(real: Tensor, fake: Tensor, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` (M, dim) against ``real`` (N, dim), one ``k`` for all.

    One pass over the real x fake distances in row chunks; see the module docstring for the formulas.
    """
    real, fake = _prepare(real, fake, k)
    real_radii = _kth_neighbour_sq(real, k)
    fake_radii = _kth_neighbour_sq(fake, k)
    fake_norms = fake.square().sum(1)

    fake_in_real_balls = torch.zeros(fake.shape[0], dtype=torch.bool, device=real.device)
    balls_per_fake = torch.zeros(fake.shape[0], dtype=torch.int64, device=real.device)
    real_in_fake_balls = torch.empty(real.shape[0], dtype=torch.bool, device=real.device)
    covered = torch.empty(real.shape[0], dtype=torch.bool, device=real.device)
    step = _chunk_rows(fake.shape[0])
    for start in range(0, real.shape[0], step):
        rows = slice(start, start + step)
        d2 = _squared_distances(real[rows], fake, fake_norms)  # (chunk of reals, M)
        radius = real_radii[rows, None]
        fake_in_real_balls |= (d2 <= radius).any(0)
        balls_per_fake += (d2 < radius).sum(0)
        real_in_fake_balls[rows] = (d2 <= fake_radii[None, :]).any(1)
        covered[rows] = d2.min(1).values < real_radii[rows]

    return {
        "precision": fake_in_real_balls.double().mean().item(),
        "recall": real_in_fake_balls.double().mean().item(),
        "density": balls_per_fake.double().mean().item() / k,
        "coverage": covered.double().mean().item(),
    }


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019), ``k = 3`` as in the paper."""
    scores = prdc(real, fake, k)
    return {"precision": scores["precision"], "recall": scores["recall"]}


def density_coverage(real: Tensor, fake: Tensor, k: int = 5) -> dict[str, float]:
    """Density and coverage (Naeem et al., 2020), ``k = 5`` as in the paper."""
    scores = prdc(real, fake, k)
    return {"density": scores["density"], "coverage": scores["coverage"]}
