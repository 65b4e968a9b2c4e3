"""Multi-layer perceptrons for vector data (the toy lab).

The WGAN-GP toy experiments use ReLU MLPs of 3 hidden layers of 512 units without batch norm;
gankit's defaults are narrower (see the data-kind defaults in :mod:`gankit.recipes`) because
on 2 CPU cores more, cheaper steps beat fewer, wider ones.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _mlp(in_dim: int, hidden: int, layers: int, out_dim: int, batchnorm: bool, activation: type[nn.Module]) -> nn.Sequential:
    modules: list[nn.Module] = []
    width = in_dim
    for _ in range(layers):
        modules.append(nn.Linear(width, hidden))
        if batchnorm:
            modules.append(nn.BatchNorm1d(hidden))
        modules.append(activation())
        width = hidden
    modules.append(nn.Linear(width, out_dim))
    return nn.Sequential(*modules)


class MLPGenerator(nn.Module):
    """G(z): ``layers`` hidden Linear(+BN)+ReLU blocks, linear output of the data's dimension."""

    def __init__(self, z_dim: int, out_dim: int, hidden: int = 256, layers: int = 3, batchnorm: bool = False):
        super().__init__()
        self.z_dim = z_dim
        self.num_classes = 0
        self.net = _mlp(z_dim, hidden, layers, out_dim, batchnorm, nn.ReLU)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """D(x): ``layers`` hidden Linear(+BN)+ReLU blocks and one raw output (a logit or a critic score)."""

    def __init__(self, in_dim: int, hidden: int = 256, layers: int = 3, batchnorm: bool = False):
        super().__init__()
        self.num_classes = 0
        self.net = _mlp(in_dim, hidden, layers, 1, batchnorm, nn.ReLU)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(x.flatten(1)).squeeze(1)


def sample_latent(n: int, z_dim: int, generator: torch.Generator, device: torch.device) -> Tensor:
    """z ~ N(0, I) of shape (n, z_dim)."""
    return torch.randn(n, z_dim, generator=generator, device=device)
