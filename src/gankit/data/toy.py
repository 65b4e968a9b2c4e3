"""Toy distributions of the theory lab: Gaussian mixtures, the swiss roll, parallel lines, a 1-D Gaussian.

Every data set here is an exact sampler: ``sample(n, generator)`` draws fresh points with tensor
ops on ``generator.device`` (no host work, no numpy), so a run is reproducible from its seed and a
training step never leaves the device. Labels are always ``None``: the toy lab is unconditional.

Mixtures (``ring8``, ``grid25``) also expose ``modes`` (a ``(K, d)`` tensor) and ``mode_std`` for
the VEEGAN/PacGAN mode metrics (:mod:`gankit.metrics.toy`); the other data sets have ``modes = None``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from gankit.data import register
from gankit.data.base import Dataset
from gankit.errors import GankitError, did_you_mean


@dataclass
class ToyData(Dataset):
    """A toy distribution; ``modes``/``mode_std`` are set only for Gaussian mixtures."""

    modes: Tensor | None = None
    mode_std: float | None = None

    def _draw(self, n: int, generator: torch.Generator) -> Tensor:
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor | None]:
        # Randomness comes from `generator` on its own device; .to() is a no-op when that is the
        # data set's device (the training loop's case), so no per-step transfer happens.
        return self._draw(n, generator).to(self.device), None


@dataclass
class GaussianMixture(ToyData):
    """Equal-weight mixture of isotropic Gaussians: pick a mode k ~ U{0..K-1}, return μ_k + σ·N(0, I)."""

    def __post_init__(self) -> None:
        self.modes = self.modes.to(self.device, torch.float32)

    def _draw(self, n: int, generator: torch.Generator) -> Tensor:
        k = torch.randint(self.modes.shape[0], (n,), generator=generator, device=generator.device)
        noise = torch.randn(n, self.modes.shape[1], generator=generator, device=generator.device)
        return self.modes[k.to(self.device)] + self.mode_std * noise.to(self.device)


@dataclass
class SwissRoll(ToyData):
    """2-D swiss roll exactly as the WGAN-GP toy code draws it.

    That code calls ``sklearn.datasets.make_swiss_roll(n, noise=0.25)``, keeps the (x, z) columns and
    divides by 7.5. Written out: t = 1.5π(1 + 2u), u ~ U(0, 1); point = (t cos t, t sin t) + 0.25·N(0, I);
    then everything / 7.5, i.e. the roll spans about [-1.3, 1.7] and the noise std is 0.25/7.5 ≈ 0.033.
    """

    noise: float = 0.25
    scale: float = 7.5

    def _draw(self, n: int, generator: torch.Generator) -> Tensor:
        u = torch.rand(n, generator=generator, device=generator.device)
        t = 1.5 * math.pi * (1 + 2 * u)
        roll = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)
        noise = torch.randn(n, 2, generator=generator, device=generator.device)
        return (roll + self.noise * noise) / self.scale


@dataclass
class ParallelLines(ToyData):
    """The seeds' example of why JS fails: real p is the segment x = 0, y ~ U(0, 1).

    ``theta`` places the *other* line q (x = θ, y ~ U(0, 1)) that experiments compare against:
    JS(p‖q) = log 2 for every θ ≠ 0 while W1(p, q) = |θ|. ``sample`` always draws the real line.
    """

    theta: float = 1.0

    def sample_line(self, n: int, generator: torch.Generator, x: float = 0.0) -> Tensor:
        """``n`` points (x, y) with y ~ U(0, 1) on the vertical line at ``x``."""
        y = torch.rand(n, generator=generator, device=generator.device)
        return torch.stack([torch.full_like(y, float(x)), y], dim=1).to(self.device)

    def sample_other(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` points of the other line q: (θ, U(0, 1))."""
        return self.sample_line(n, generator, self.theta)

    def _draw(self, n: int, generator: torch.Generator) -> Tensor:
        return self.sample_line(n, generator, 0.0)


@dataclass
class Gaussian1D(ToyData):
    """1-D normal N(mean, std²) with examples of shape (1,)."""

    mean: float = 2.0
    std: float = 0.5

    def _draw(self, n: int, generator: torch.Generator) -> Tensor:
        return self.mean + self.std * torch.randn(n, 1, generator=generator, device=generator.device)


def _float_options(dataset: str, given: dict[str, Any], defaults: dict[str, float]) -> dict[str, float]:
    """``defaults`` updated with ``given``; unknown or non-numeric options raise GankitError naming them."""
    for key in given:
        if key not in defaults:
            valid = did_you_mean(key, defaults) if defaults else " (it takes no options)"
            raise GankitError(f"unknown option {key!r} for dataset {dataset!r}{valid}")
    options = dict(defaults)
    for key, value in given.items():
        try:
            options[key] = float(value)
        except (TypeError, ValueError):
            raise GankitError(f"dataset {dataset!r} option {key!r} must be a number, got {value!r}") from None
        if not math.isfinite(options[key]):
            raise GankitError(f"dataset {dataset!r} option {key!r} must be finite, got {value!r}")
    return options


def ring_modes(k: int = 8, radius: float = 1.0) -> Tensor:
    """The ``k`` means (r cos 2πi/k, r sin 2πi/k), i = 0..k-1."""
    angles = 2 * math.pi * torch.arange(k, dtype=torch.float64) / k
    return (radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)).float()


def grid_modes(values: tuple[float, ...] = (-4.0, -2.0, 0.0, 2.0, 4.0)) -> Tensor:
    """The means {values}², row-major: (v_0, v_0), (v_0, v_1), ..."""
    v = torch.tensor(values, dtype=torch.float32)
    return torch.cartesian_prod(v, v)


@register("ring8", "8 Gaussians (std 0.01) on the unit circle: the VEEGAN/PacGAN mode-collapse test")
def build_ring8(device: torch.device, **options) -> GaussianMixture:
    _float_options("ring8", options, {})
    return GaussianMixture("ring8", (2,), device=device, modes=ring_modes(8, 1.0), mode_std=0.01)


@register("grid25", "25 Gaussians (std 0.05) on the grid {-4,-2,0,2,4}^2 (PacGAN)")
def build_grid25(device: torch.device, **options) -> GaussianMixture:
    _float_options("grid25", options, {})
    return GaussianMixture("grid25", (2,), device=device, modes=grid_modes(), mode_std=0.05)


@register("swissroll", "2-D swiss roll scaled by 1/7.5 as in the WGAN-GP toy code (no modes)")
def build_swissroll(device: torch.device, **options) -> SwissRoll:
    _float_options("swissroll", options, {})
    return SwissRoll("swissroll", (2,), device=device)


@register("parallel-lines", "the segment x=0, y~U(0,1); option theta places the other line (JS vs W1)")
def build_parallel_lines(device: torch.device, **options) -> ParallelLines:
    opts = _float_options("parallel-lines", options, {"theta": 1.0})
    return ParallelLines("parallel-lines", (2,), device=device, theta=opts["theta"])


@register("gauss1d", "1-D Gaussian N(mean, std^2), options mean=2.0, std=0.5")
def build_gauss1d(device: torch.device, **options) -> Gaussian1D:
    opts = _float_options("gauss1d", options, {"mean": 2.0, "std": 0.5})
    if opts["std"] <= 0:
        raise GankitError(f"dataset 'gauss1d' option 'std' must be positive, got {opts['std']}")
    return Gaussian1D("gauss1d", (1,), device=device, mean=opts["mean"], std=opts["std"])
