"""FID and KID: closed forms, the scipy reference formula, and the unbiasedness of the KID estimator."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from gankit.errors import GankitError
from gankit.metrics.frechet import (
    feature_statistics,
    fid_from_features,
    frechet_distance,
    kid_from_features,
    polynomial_mmd2,
)


def random_covariance(dim: int, generator: torch.Generator) -> torch.Tensor:
    a = torch.randn(dim, dim, generator=generator, dtype=torch.float64)
    return a @ a.T / dim + 0.1 * torch.eye(dim, dtype=torch.float64)


def test_feature_statistics_match_numpy_mean_and_cov():
    features = torch.randn(50, 6, generator=torch.Generator().manual_seed(0))
    mu, sigma = feature_statistics(features)
    assert mu.dtype == sigma.dtype == torch.float64
    np.testing.assert_allclose(mu.numpy(), features.double().numpy().mean(0), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sigma.numpy(), np.cov(features.double().numpy(), rowvar=False), rtol=1e-12, atol=1e-14)


def test_fid_of_a_set_with_itself_is_zero():
    features = torch.randn(400, 64, generator=torch.Generator().manual_seed(1)) * 3 + 1
    scale = feature_statistics(features)[1].trace().item()  # FID's terms are of this size
    assert abs(fid_from_features(features, features)) < 1e-10 * scale


def test_frechet_distance_of_one_dimensional_gaussians():
    # W2^2(N(m1, s1^2), N(m2, s2^2)) = (m1 - m2)^2 + (s1 - s2)^2
    d = frechet_distance(torch.tensor([1.5]), torch.tensor([[4.0]]), torch.tensor([-0.5]), torch.tensor([[0.25]]))
    assert d == pytest.approx(2.0**2 + (2.0 - 0.5) ** 2, rel=1e-12)


def test_frechet_distance_of_commuting_covariances_is_the_closed_form():
    # diagonal covariances commute: tr((S1 S2)^1/2) = sum sqrt(a_i b_i)
    g = torch.Generator().manual_seed(2)
    a, b = torch.rand(10, generator=g, dtype=torch.float64) + 0.1, torch.rand(10, generator=g, dtype=torch.float64) + 0.1
    mu1, mu2 = torch.randn(10, generator=g, dtype=torch.float64), torch.randn(10, generator=g, dtype=torch.float64)
    expected = (mu1 - mu2).square().sum() + (a.sqrt() - b.sqrt()).square().sum()
    assert frechet_distance(mu1, torch.diag(a), mu2, torch.diag(b)) == pytest.approx(expected.item(), rel=1e-10)


def test_frechet_distance_matches_scipy_sqrtm_formula():
    # the pytorch-fid / TTUR reference: ||mu1-mu2||^2 + tr(S1 + S2 - 2 sqrtm(S1 S2))
    g = torch.Generator().manual_seed(3)
    s1, s2 = random_covariance(30, g), random_covariance(30, g)
    mu1, mu2 = torch.randn(30, generator=g, dtype=torch.float64), torch.randn(30, generator=g, dtype=torch.float64)
    root = scipy.linalg.sqrtm(s1.numpy() @ s2.numpy()).real
    expected = ((mu1 - mu2) ** 2).sum().item() + np.trace(s1.numpy() + s2.numpy() - 2 * root)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_fid_of_samples_converges_to_the_gaussians_distance():
    g = torch.Generator().manual_seed(4)
    s1, s2 = random_covariance(4, g), random_covariance(4, g)
    mu1, mu2 = torch.zeros(4, dtype=torch.float64), torch.full((4,), 0.5, dtype=torch.float64)
    exact = frechet_distance(mu1, s1, mu2, s2)
    n = 200_000
    x = mu1 + torch.randn(n, 4, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(s1).T
    y = mu2 + torch.randn(n, 4, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(s2).T
    assert fid_from_features(x, y) == pytest.approx(exact, rel=0.02)


def test_frechet_distance_rejects_mismatched_shapes():
    with pytest.raises(GankitError, match="shapes"):
        frechet_distance(torch.zeros(3), torch.eye(3), torch.zeros(4), torch.eye(4))


def test_polynomial_mmd2_matches_the_unbiased_formula_by_hand():
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(5, 3, generator=g, dtype=torch.float64)

    def k(a, b):
        return (a @ b / 3 + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(4) for j in range(4) if i != j) / (4 * 3)
    yy = sum(k(y[i], y[j]) for i in range(5) for j in range(5) if i != j) / (5 * 4)
    xy = sum(k(x[i], y[j]) for i in range(4) for j in range(5)) / (4 * 5)
    assert polynomial_mmd2(x, y).item() == pytest.approx((xx + yy - 2 * xy).item(), rel=1e-12)


def test_polynomial_mmd2_is_unbiased_where_the_plain_estimate_is_not():
    # Many independent tiny draws of one distribution: MMD^2_u averages to 0; the biased V-statistic
    # (diagonal terms kept) averages to a clearly positive number.
    g = torch.Generator().manual_seed(6)
    trials, m, dim = 1500, 8, 5
    xs = torch.randn(trials, m, dim, generator=g, dtype=torch.float64)
    ys = torch.randn(trials, m, dim, generator=g, dtype=torch.float64)
    unbiased = [polynomial_mmd2(x, y).item() for x, y in zip(xs, ys)]

    def k(a, b):
        return (a @ b.transpose(-1, -2) / dim + 1) ** 3

    biased = k(xs, xs).mean((1, 2)) + k(ys, ys).mean((1, 2)) - 2 * k(xs, ys).mean((1, 2))
    unbiased, biased = np.array(unbiased), biased.numpy()
    stderr = unbiased.std() / math.sqrt(trials)
    assert abs(unbiased.mean()) < 4 * stderr
    assert biased.mean() > 20 * biased.std() / math.sqrt(trials)


def test_kid_of_two_halves_of_one_set_is_zero_within_its_spread():
    features = torch.randn(1200, 32, generator=torch.Generator().manual_seed(7))
    mean, std = kid_from_features(features[:600], features[600:], subsets=50, subset_size=300)
    assert std > 0
    assert abs(mean) < 3 * std


def test_kid_is_positive_for_shifted_sets():
    g = torch.Generator().manual_seed(8)
    real, fake = torch.randn(600, 32, generator=g), torch.randn(600, 32, generator=g) + 0.3
    mean, std = kid_from_features(real, fake, subsets=50, subset_size=300)
    assert mean > 10 * std > 0


def test_kid_is_reproducible_with_a_generator_and_checks_subset_size():
    g = torch.Generator().manual_seed(9)
    a, b = torch.randn(100, 8, generator=g), torch.randn(100, 8, generator=g)
    first = kid_from_features(a, b, subsets=5, subset_size=50, generator=torch.Generator().manual_seed(1))
    again = kid_from_features(a, b, subsets=5, subset_size=50, generator=torch.Generator().manual_seed(1))
    other = kid_from_features(a, b, subsets=5, subset_size=50, generator=torch.Generator().manual_seed(2))
    assert first == again != other
    with pytest.raises(GankitError, match="subset_size=1000"):
        kid_from_features(a, b)
