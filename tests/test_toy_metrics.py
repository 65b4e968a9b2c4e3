"""Toy-lab metrics against the VEEGAN/PacGAN definitions and exact optimal transport."""

from __future__ import annotations

import math
import warnings

import pytest
import scipy.stats
import torch

from gankit.data import build_dataset
from gankit.errors import GankitError
from gankit.metrics.toy import mode_statistics, toy_metrics, wasserstein1


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_mode_statistics_on_hand_computed_points():
    modes = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    samples = torch.tensor([
        [0.5, 0.0],   # mode 0, distance 0.5: HQ
        [1.0, 1.0],   # mode 0, distance √2: HQ
        [0.0, 2.9],   # mode 0, distance 2.9: HQ
        [9.0, 0.0],   # mode 1, distance 1: HQ
        [5.1, 0.0],   # mode 1, distance 4.9 > 3 std: not HQ
    ])
    stats = mode_statistics(samples, modes, std=1.0)
    assert stats["histogram"] == [3, 1] and stats["modes"] == 2
    assert stats["hq_fraction"] == pytest.approx(4 / 5)
    # KL(q‖uniform) with q = (3/4, 1/4), p = (1/2, 1/2).
    assert stats["reverse_kl"] == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5))
    # A wider HQ radius lets the fifth sample count too.
    assert mode_statistics(samples, modes, std=1.0, hq_radius_std=5.0)["histogram"] == [3, 2]


def test_perfect_ring8_samples_capture_all_modes():
    data = build_dataset("ring8")
    n = 20_000
    samples, _ = data.sample(n, seeded(1))
    stats = mode_statistics(samples, data.modes, data.mode_std)
    assert stats["modes"] == 8
    # ‖x − μ‖/σ ~ chi(2), so P(within 3σ) = 1 − exp(−9/2) ≈ 0.989; allow 5 binomial standard deviations.
    p_hq = 1 - math.exp(-4.5)
    assert stats["hq_fraction"] == pytest.approx(p_hq, abs=5 * math.sqrt(p_hq * (1 - p_hq) / n))
    assert 0 <= stats["reverse_kl"] < 1e-3  # only sampling noise in the histogram
    assert sum(stats["histogram"]) == round(stats["hq_fraction"] * n)


def test_perfect_grid25_samples_capture_all_25_modes():
    data = build_dataset("grid25")
    samples, _ = data.sample(10_000, seeded(2))
    stats = mode_statistics(samples, data.modes, data.mode_std)
    assert stats["modes"] == 25 and len(stats["histogram"]) == 25
    assert stats["reverse_kl"] < 5e-3


def test_collapse_onto_one_mode_gives_log_k():
    data = build_dataset("ring8")
    samples = data.modes[3] + data.mode_std * torch.randn(1000, 2, generator=seeded())
    stats = mode_statistics(samples, data.modes, data.mode_std)
    assert stats["modes"] == 1 and stats["histogram"][3] == sum(stats["histogram"])
    assert stats["reverse_kl"] == pytest.approx(math.log(8))


def test_samples_far_from_every_mode_are_not_high_quality():
    data = build_dataset("ring8")
    samples = torch.full((500, 2), 5.0)
    stats = mode_statistics(samples, data.modes, data.mode_std)
    assert stats["modes"] == 0 and stats["hq_fraction"] == 0 and stats["histogram"] == [0] * 8
    assert stats["reverse_kl"] == float("inf")


def test_nan_samples_count_as_low_quality():
    data = build_dataset("ring8")
    samples = torch.cat([data.modes, torch.full((8, 2), float("nan"))])
    stats = mode_statistics(samples, data.modes, data.mode_std)
    assert stats["modes"] == 8 and stats["hq_fraction"] == 0.5


def test_mode_statistics_rejects_mismatched_dimensions():
    with pytest.raises(GankitError, match="dimension"):
        mode_statistics(torch.zeros(4, 3), build_dataset("ring8").modes, 0.01)


def test_w1_of_a_set_to_itself_and_to_a_permutation_is_zero():
    x = torch.randn(300, 2, generator=seeded())
    assert wasserstein1(x, x) == pytest.approx(0.0, abs=1e-12)
    assert wasserstein1(x, x[torch.randperm(300, generator=seeded(1))]) == pytest.approx(0.0, abs=1e-12)


def test_w1_of_a_translation_is_the_shift_length():
    x = torch.randn(400, 2, generator=seeded(3), dtype=torch.float64)
    shift = torch.tensor([0.3, -0.4], dtype=torch.float64)
    assert wasserstein1(x, x + shift) == pytest.approx(0.5, rel=1e-9)


def test_w1_hand_computed():
    # Half the mass at 0 and half at 1 against all of it at 0.5: every unit moves 0.5.
    assert wasserstein1(torch.tensor([[0.0], [1.0]]), torch.tensor([[0.5]])) == pytest.approx(0.5)
    # The parallel-lines example: W1 of (0, y) and (θ, y) is |θ|.
    lines = build_dataset("parallel-lines", theta=-0.7)
    real, _ = lines.sample(200, seeded())
    assert wasserstein1(real, lines.sample_other(200, seeded())) == pytest.approx(0.7, rel=1e-6)  # float32 θ


@pytest.mark.parametrize("n, m", [(1500, 1500), (1200, 700)])
def test_w1_in_1d_matches_scipy_for_equal_and_unequal_sizes(n, m):
    gen = seeded(5)
    x = torch.randn(n, generator=gen, dtype=torch.float64)
    y = 0.5 + 2 * torch.rand(m, generator=gen, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # POT warns when the simplex stops early: it must not
        value = wasserstein1(x[:, None], y[:, None])
    assert value == pytest.approx(scipy.stats.wasserstein_distance(x.numpy(), y.numpy()), rel=1e-9)


def test_w1_rejects_mismatched_dimensions_and_is_inf_for_nan():
    with pytest.raises(GankitError, match="same dimension"):
        wasserstein1(torch.zeros(3, 2), torch.zeros(3, 1))
    assert wasserstein1(torch.tensor([[float("nan"), 0.0]]), torch.zeros(1, 2)) == float("inf")


def test_toy_metrics_on_a_mixture():
    data = build_dataset("ring8")
    fake, _ = data.sample(1000, seeded(10))
    reference, _ = data.sample(1000, seeded(11))
    metrics = toy_metrics(fake, data, reference)
    assert set(metrics) == {"modes", "num_modes", "hq_fraction", "reverse_kl", "w1"}
    assert metrics["modes"] == 8 and metrics["num_modes"] == 8
    assert metrics["w1"] == pytest.approx(wasserstein1(fake, reference))
    stats = mode_statistics(fake, data.modes, data.mode_std)
    assert metrics["hq_fraction"] == stats["hq_fraction"] and metrics["reverse_kl"] == stats["reverse_kl"]


def test_toy_metrics_default_reference_is_fixed_and_sized_like_the_samples():
    data = build_dataset("swissroll")
    fake, _ = data.sample(500, seeded(4))
    first, second = toy_metrics(fake, data), toy_metrics(fake, data)
    assert set(first) == {"w1"} and first == second
    # A collapsed generator is much farther from the data than a perfect one.
    assert toy_metrics(torch.zeros(500, 2), data)["w1"] > 5 * first["w1"]


def test_toy_metrics_caps_the_w1_sample_count():
    data = build_dataset("gauss1d")
    fake, _ = data.sample(300, seeded(6))
    reference, _ = data.sample(300, seeded(7))
    capped = toy_metrics(fake, data, reference, w1_max_samples=100)["w1"]
    assert capped == pytest.approx(wasserstein1(fake[:100], reference[:100]))
