"""Helpers shared by the theory-lab experiments: a discriminator fit, log-spaced steps, figure saving."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # off-screen, like gankit.plots

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402

from gankit.plots import DPI  # noqa: E402

Sampler = Callable[[int], Tensor]  # n -> a batch of n examples on the device
CriticLoss = Callable[[nn.Module, Tensor, Tensor], Tensor]  # (D, real, fake) -> loss to minimise


def fit_discriminator(D: nn.Module, real: Sampler, fake: Sampler, loss: CriticLoss, steps: int, batch_size: int,
                      lr: float, betas: tuple[float, float] = (0.5, 0.999), decay: bool = True) -> list[float]:
    """Train ``D`` alone for ``steps`` Adam steps on fresh batches; returns the loss of every step.

    ``decay`` takes the learning rate linearly to 0, so the last iterate sits close to the optimum
    instead of jittering around it with minibatch noise (the estimates read D's final state).
    """
    optimizer = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, (lambda s: 1 - s / steps) if decay else (lambda s: 1.0))
    losses = []
    for _ in range(steps):
        value = loss(D, real(batch_size), fake(batch_size))
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        schedule.step()
        losses.append(value.detach())
    return [float(v) for v in torch.stack(losses).cpu()] if losses else []


def log_spaced(last: int, count: int) -> list[int]:
    """About ``count`` distinct integers from 1 to ``last``, evenly spaced on a log scale (1 and ``last`` included)."""
    return sorted({int(round(v)) for v in np.geomspace(1, last, count)})


def model_seed(seed: int, offset: int) -> None:
    """Seed torch's global RNG (network initialisation) for one independently seeded network."""
    torch.manual_seed(seed * 1000 + offset)


def new_figure(ncols: int, nrows: int = 1, width: float = 4.2, height: float = 3.6, **kwargs):
    """``plt.subplots`` sized ``width`` × ``height`` inches per panel, always a 2-D axes array."""
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kwargs)


def save_figure(fig: plt.Figure, path: Path, title: str | None = None) -> Path:
    """Write ``fig`` as a PNG at gankit's plotting DPI and close it."""
    if title:
        fig.suptitle(title, fontsize="large")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.tight_layout()
        fig.savefig(path, dpi=DPI, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def to_numpy(x: Tensor) -> np.ndarray:
    return x.detach().to("cpu", torch.float64).numpy()
