"""Fréchet Inception Distance and Kernel Inception Distance on feature matrices.

FID (Heusel et al., 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium") is the Fréchet (2-Wasserstein) distance between Gaussians fitted to two feature sets::

    FID = ||mu_1 - mu_2||^2 + tr(S_1) + tr(S_2) - 2 tr((S_1 S_2)^{1/2})

KID (Bińkowski et al., 2018, "Demystifying MMD GANs") is the unbiased estimate of the squared MMD
with the cubic polynomial kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets.
Unlike FID it has an unbiased estimator, so it is comparable across sample sizes.

Everything is computed in float64 on the device of the inputs. torchmetrics' FID is the same few
lines (eigenvalues of S_1 S_2) but its KID draws subsets from the global RNG, so gankit keeps the
math here and takes an explicit generator.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import GankitError

__all__ = ["feature_statistics", "frechet_distance", "fid_from_features", "kid_from_features", "polynomial_mmd2"]


def _as_features(features: Tensor, what: str) -> Tensor:
    features = torch.as_tensor(features)
    if features.dim() != 2 or features.shape[0] < 2:
        raise GankitError(f"{what} must be a (N, dim) feature matrix with N >= 2, got shape {tuple(features.shape)}")
    return features.double()


def feature_statistics(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean ``mu`` (dim,) and unbiased covariance ``sigma`` (dim, dim) of ``(N, dim)`` features, in float64.

    ``sigma = (F - mu)^T (F - mu) / (N - 1)``, as ``np.cov(rowvar=False)`` in the reference FID code.
    """
    features = _as_features(features, "features")
    mu = features.mean(0)
    centered = features - mu
    sigma = centered.T @ centered / (features.shape[0] - 1)
    return mu, sigma


def _psd_sqrt(matrix: Tensor) -> Tensor:
    """Symmetric square root of a symmetric PSD matrix via its eigendecomposition (negative rounding noise -> 0)."""
    eigenvalues, eigenvectors = torch.linalg.eigh(matrix)
    return (eigenvectors * eigenvalues.clamp(min=0).sqrt()) @ eigenvectors.T


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^{1/2})``. The trace term uses
    ``tr((S1 S2)^{1/2}) = tr((S1^{1/2} S2 S1^{1/2})^{1/2})``: the right side is a symmetric PSD
    matrix, so two symmetric eigendecompositions replace scipy's ``sqrtm`` of a non-symmetric product
    (faster, real-valued, runs on the GPU).
    """
    mu1, mu2 = torch.as_tensor(mu1).double(), torch.as_tensor(mu2).double()
    sigma1, sigma2 = torch.as_tensor(sigma1).double(), torch.as_tensor(sigma2).double()
    dim = mu1.shape[-1]
    if mu1.shape != (dim,) or mu2.shape != (dim,) or sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise GankitError(f"frechet_distance: shapes do not match: mu {tuple(mu1.shape)}, {tuple(mu2.shape)}, "
                          f"sigma {tuple(sigma1.shape)}, {tuple(sigma2.shape)}")
    mu2, sigma2 = mu2.to(mu1.device), sigma2.to(mu1.device)
    root1 = _psd_sqrt(sigma1)
    middle = root1 @ sigma2 @ root1
    middle = (middle + middle.T) / 2  # symmetric up to rounding; make it exactly so for eigvalsh
    trace_sqrt = torch.linalg.eigvalsh(middle).clamp(min=0).sqrt().sum()
    distance = (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * trace_sqrt
    return float(distance)


def fid_from_features(features1: Tensor, features2: Tensor) -> float:
    """FID between two ``(N, dim)`` feature sets (Heusel et al., 2017)."""
    mu1, sigma1 = feature_statistics(features1)
    mu2, sigma2 = feature_statistics(features2)
    return frechet_distance(mu1, sigma1, mu2, sigma2.to(mu1.device))


def polynomial_mmd2(x: Tensor, y: Tensor, degree: int = 3, gamma: float | None = None, coef0: float = 1.0) -> Tensor:
    """Unbiased MMD^2 between samples ``x`` (m, d) and ``y`` (n, d) with ``k(a, b) = (gamma a.b + coef0)^degree``.

    ``MMD^2_u = sum_{i!=j} k(x_i, x_j) / (m(m-1)) + sum_{i!=j} k(y_i, y_j) / (n(n-1)) - 2 mean_{i,j} k(x_i, y_j)``
    (Gretton et al., 2012, eq. 3); ``gamma`` defaults to ``1 / d`` (Bińkowski et al., 2018).
    """
    m, n, dim = x.shape[0], y.shape[0], x.shape[1]
    gamma = 1.0 / dim if gamma is None else gamma
    k_xx = (gamma * (x @ x.T) + coef0) ** degree
    k_yy = (gamma * (y @ y.T) + coef0) ** degree
    k_xy = (gamma * (x @ y.T) + coef0) ** degree
    within_x = (k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))
    within_y = (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
    return within_x + within_y - 2 * k_xy.mean()


def kid_from_features(
    features1: Tensor,
    features2: Tensor,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    """KID (Bińkowski et al., 2018): mean and standard deviation of the unbiased polynomial-kernel MMD^2
    over ``subsets`` random subsets of ``subset_size`` features from each set (drawn without replacement
    within a subset, as in the paper's code and torch-fidelity).

    The std is the spread over subsets (population std, as torch-fidelity reports), not a standard
    error. ``generator`` (default: CPU, seeded 0) makes the subsets reproducible.
    """
    x = _as_features(features1, "features1")
    y = _as_features(features2, "features2").to(x.device)
    if x.shape[1] != y.shape[1]:
        raise GankitError(f"kid_from_features: feature dims differ ({x.shape[1]} vs {y.shape[1]})")
    if subsets < 1:
        raise GankitError(f"kid_from_features: subsets must be positive, got {subsets}")
    smallest = min(x.shape[0], y.shape[0])
    if not 2 <= subset_size <= smallest:
        raise GankitError(f"kid_from_features: subset_size={subset_size} must be in [2, {smallest}] "
                          f"(the smaller set has {smallest} features)")
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    values = torch.empty(subsets, dtype=torch.float64, device=x.device)
    for i in range(subsets):
        pick_x = torch.randperm(x.shape[0], generator=generator, device=generator.device)[:subset_size]
        pick_y = torch.randperm(y.shape[0], generator=generator, device=generator.device)[:subset_size]
        pick_x, pick_y = pick_x.to(x.device), pick_y.to(x.device)
        values[i] = polynomial_mmd2(x[pick_x], y[pick_y], degree, gamma, coef0)
    return float(values.mean()), float(values.std(correction=0))
