"""Plots: each writes a real, non-blank PNG (creating folders), calls the critic without autograd, leaks no figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from gankit import plots
from gankit.data import build_dataset
from gankit.errors import GankitError


def samples(name: str, n: int = 500, seed: int = 0) -> torch.Tensor:
    return build_dataset(name).sample(n, torch.Generator().manual_seed(seed))[0]


def assert_png(path, min_bytes: int = 5000) -> np.ndarray:
    assert path.is_file() and path.stat().st_size > min_bytes
    with Image.open(path) as image:
        assert image.format == "PNG"
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape[0] > 200 and pixels.shape[1] > 200
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20  # something was drawn
    assert plt.get_fignums() == []  # the figure was closed
    return pixels


def test_scatter_samples_2d_creates_parent_folders(tmp_path):
    data = build_dataset("ring8")
    path = tmp_path / "deep" / "er" / "ring.png"
    returned = plots.scatter_samples(samples("ring8"), real=samples("ring8", seed=1), modes=data.modes,
                                     path=str(path), title="ring8")
    assert returned == path
    assert_png(path)


def test_scatter_samples_1d_draws_histograms(tmp_path):
    fake, real = samples("gauss1d"), samples("gauss1d", seed=1)
    plots.scatter_samples(fake, real=real, path=tmp_path / "hist.png", title="gauss1d")
    pixels = assert_png(tmp_path / "hist.png")
    # The real histogram is filled light grey (0.75 → 191): a scatter of 1-D points could not fill that much.
    grey = (np.abs(pixels.astype(int) - 191) <= 2).all(axis=2)
    assert grey.mean() > 0.05


def test_scatter_samples_ignores_non_finite_points(tmp_path):
    fake = torch.cat([samples("swissroll"), torch.tensor([[float("nan"), 0.0], [float("inf"), 1.0]])])
    plots.scatter_samples(fake.numpy(), path=tmp_path / "nan.png")
    assert_png(tmp_path / "nan.png")


def test_scatter_grid_lays_out_panels(tmp_path):
    real = samples("grid25", seed=1)
    panels = [(f"model {i}", samples("grid25", seed=10 + i), real) for i in range(3)]
    one_row = assert_png(plots.scatter_grid(panels, tmp_path / "row.png", ncols=3))
    two_rows = assert_png(plots.scatter_grid(panels, tmp_path / "grid.png", ncols=2))
    assert one_row.shape[1] > one_row.shape[0] and two_rows.shape[0] > one_row.shape[0]
    with pytest.raises(GankitError):
        plots.scatter_grid([], tmp_path / "empty.png")


def test_critic_surface_calls_the_critic_once_on_a_grid_without_grad(tmp_path):
    calls = []
    critic = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))

    def critic_fn(points: torch.Tensor) -> torch.Tensor:
        calls.append((points.shape, torch.is_grad_enabled()))
        return critic(points).flatten()

    fake, real = samples("ring8"), samples("ring8", seed=1)
    plots.critic_surface(critic_fn, fake, real, tmp_path / "critic.png", title="critic")
    assert calls == [(torch.Size([100 * 100, 2]), False)]
    assert_png(tmp_path / "critic.png")


def test_critic_surface_grid_covers_the_extent(tmp_path):
    seen = []

    def critic_fn(points: torch.Tensor) -> torch.Tensor:
        seen.append(points)
        return points[:, 0] - points[:, 1]

    lines = build_dataset("parallel-lines")  # zero width in x: the default box must still be 2-D
    plots.critic_surface(critic_fn, lines.sample_other(300, torch.Generator()), samples("parallel-lines"),
                         tmp_path / "default.png")
    assert seen[0][:, 0].min() < 0 < 1 < seen[0][:, 0].max()
    plots.critic_surface(critic_fn, samples("ring8"), None, tmp_path / "box.png", extent=(-2, 3, -1, 4), resolution=50)
    box = seen[1]
    assert box.shape == (2500, 2)
    assert box[:, 0].min() == -2 and box[:, 0].max() == 3 and box[:, 1].min() == -1 and box[:, 1].max() == 4
    assert_png(tmp_path / "box.png")


def test_line_plot_linear_and_log(tmp_path):
    steps = np.arange(1, 101)
    series = {"D loss": (steps, np.exp(-steps / 30)), "G loss": (steps.tolist(), torch.linspace(1, 2, 100))}
    assert_png(plots.line_plot(series, tmp_path / "lin.png", "step", "loss", title="losses"))
    assert_png(plots.line_plot(series, tmp_path / "log.png", "step", "loss", logy=True))
    with pytest.raises(GankitError, match="'bad'"):
        plots.line_plot({"bad": ([1, 2], [1])}, tmp_path / "bad.png", "x", "y")
