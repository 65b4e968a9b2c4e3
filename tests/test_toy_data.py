"""Toy data sets: the distributions the papers define, drawn reproducibly from the caller's generator."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.data import build_dataset, dataset_info, dataset_names
from gankit.data.toy import SwissRoll
from gankit.errors import GankitError

TOY = ["ring8", "grid25", "swissroll", "parallel-lines", "gauss1d"]


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def nearest_mode_residuals(x: torch.Tensor, modes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of each point's nearest mode and the point minus that mode."""
    nearest = torch.cdist(x, modes).argmin(dim=1)
    return nearest, x - modes[nearest]


def test_all_toy_data_sets_are_registered_as_vectors():
    assert set(TOY) <= set(dataset_names())
    assert all(dataset_info(name).kind == "vector" for name in TOY)


@pytest.mark.parametrize("name", TOY)
def test_sample_shape_dtype_and_no_labels(name):
    data = build_dataset(name, "cpu")
    x, y = data.sample(64, seeded())
    assert x.shape == (64, *data.shape) and x.dtype == torch.float32 and x.device == data.device
    assert y is None and data.num_classes == 0
    assert torch.isfinite(x).all()


@pytest.mark.parametrize("name", TOY)
def test_samples_depend_only_on_the_generator(name):
    data = build_dataset(name)
    torch.manual_seed(1)
    first, _ = data.sample(100, seeded(7))
    torch.manual_seed(2)  # the global RNG must play no part
    again, _ = data.sample(100, seeded(7))
    other, _ = data.sample(100, seeded(8))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_ring8_means_are_the_unit_circle_at_multiples_of_45_degrees():
    data = build_dataset("ring8")
    assert data.modes.shape == (8, 2) and data.mode_std == 0.01
    angles = 2 * math.pi * torch.arange(8) / 8
    torch.testing.assert_close(data.modes, torch.stack([angles.cos(), angles.sin()], dim=1))


@pytest.mark.parametrize("name, num_modes, std", [("ring8", 8, 0.01), ("grid25", 25, 0.05)])
def test_mixture_samples_have_the_mode_std_and_equal_weights(name, num_modes, std):
    data = build_dataset(name)
    n = 50_000
    x, _ = data.sample(n, seeded(3))
    nearest, residual = nearest_mode_residuals(x, data.modes)
    assert residual.std(dim=0).sub(std).abs().max() < 0.02 * std
    assert residual.mean(dim=0).abs().max() < 5 * std / math.sqrt(n)
    counts = torch.bincount(nearest, minlength=num_modes).double()
    expected = n / num_modes
    # Each count is Binomial(n, 1/K): allow 5 standard deviations.
    assert (counts - expected).abs().max() < 5 * math.sqrt(expected * (1 - 1 / num_modes))


def test_grid25_means_are_the_grid():
    modes = build_dataset("grid25").modes
    expected = {(float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}
    assert {tuple(m) for m in modes.tolist()} == expected


def test_non_mixtures_have_no_modes():
    for name in ("swissroll", "parallel-lines", "gauss1d"):
        assert build_dataset(name).modes is None


def test_noise_free_swiss_roll_is_the_sklearn_curve_over_7_5():
    roll = SwissRoll("swissroll", (2,), noise=0.0)
    x, _ = roll.sample(2000, seeded())
    t = x.norm(dim=1) * 7.5  # on the curve, ‖(t cos t, t sin t)‖ = t
    assert t.min() >= 1.5 * math.pi - 1e-4 and t.max() <= 4.5 * math.pi + 1e-4
    assert t.max() - t.min() > 0.99 * 3 * math.pi  # t covers [1.5π, 4.5π]
    torch.testing.assert_close(x * 7.5, torch.stack([t * t.cos(), t * t.sin()], dim=1), atol=1e-4, rtol=0)


def test_swiss_roll_noise_is_0_25_over_7_5_off_the_curve():
    x, _ = build_dataset("swissroll").sample(4000, seeded(1))
    t = torch.linspace(1.5 * math.pi, 4.5 * math.pi, 20_000)
    curve = torch.stack([t * t.cos(), t * t.sin()], dim=1) / 7.5
    distance = torch.cdist(x, curve).min(dim=1).values
    # Only the noise's component normal to the (gently curved) roll moves a point off it: E d² ≈ σ².
    assert distance.pow(2).mean().sqrt().item() == pytest.approx(0.25 / 7.5, rel=0.08)


def test_parallel_lines_real_line_and_other_line():
    data = build_dataset("parallel-lines", theta=0.5)
    assert data.theta == 0.5
    x, _ = data.sample(20_000, seeded())
    assert (x[:, 0] == 0).all() and (x[:, 1] >= 0).all() and (x[:, 1] <= 1).all()
    assert x[:, 1].mean().item() == pytest.approx(0.5, abs=0.01)
    assert x[:, 1].var().item() == pytest.approx(1 / 12, abs=0.003)  # U(0, 1)
    other = data.sample_other(100, seeded())
    assert (other[:, 0] == 0.5).all()
    torch.testing.assert_close(other[:, 1], x[:100, 1])  # same generator state, same heights
    assert build_dataset("parallel-lines").theta == 1.0


def test_gauss1d_options():
    x, _ = build_dataset("gauss1d").sample(50_000, seeded())
    assert x.mean().item() == pytest.approx(2.0, abs=0.01) and x.std().item() == pytest.approx(0.5, abs=0.01)
    x, _ = build_dataset("gauss1d", mean=-1, std="3").sample(50_000, seeded())
    assert x.mean().item() == pytest.approx(-1.0, abs=0.05) and x.std().item() == pytest.approx(3.0, abs=0.05)


@pytest.mark.parametrize("name, options, culprit", [
    ("ring8", {"radius": 2}, "'radius'"),
    ("parallel-lines", {"tehta": 1}, "'tehta'"),
    ("parallel-lines", {"theta": "wide"}, "'theta'"),
    ("gauss1d", {"std": 0}, "'std'"),
    ("gauss1d", {"std": float("nan")}, "'std'"),
])
def test_bad_options_name_the_culprit(name, options, culprit):
    with pytest.raises(GankitError, match=culprit):
        build_dataset(name, **options)


def test_unknown_option_suggests_the_right_one():
    with pytest.raises(GankitError, match="did you mean 'theta'"):
        build_dataset("parallel-lines", tehta=1)
