"""The networks of PacGAN's synthetic experiments (Lin et al. 2018, Sec. 5.1; the authors' code,
``synthetic_data_experiments``), registered as ``model.arch = "pacgan-mlp"``.

- G: ``model.g_layers`` (4) hidden layers of ``model.g_hidden`` (400) units, each Linear (no bias:
  batch norm follows) + batch norm + ReLU, then a linear output with bias. Batch norm's running
  statistics move by 0.05 per step (the code's ``0.05·new + 0.95·old``) and serve at sampling time.
- D: ``model.d_layers`` (3) maxout layers of ``model.d_hidden`` (200) units with 5 pieces each, then
  one linear output (a logit). The paper's D sees packs of m samples: see :mod:`gankit.nets.packing`.
- Every weight ~ N(0, 0.02²), every bias 0.

Batch norm is per example set, so a seed ensemble (:mod:`gankit.nets.ensemble`) of these nets keeps
one set of statistics per member and stays exact.
"""

from __future__ import annotations

from torch import Tensor, nn

MAXOUT_PIECES = 5  # PacGAN's disc_maxout_pieces
BATCHNORM_MOMENTUM = 0.05
WEIGHT_STD = 0.02


class Maxout(nn.Module):
    """max over ``pieces`` consecutive groups of the last axis: (..., units·pieces) -> (..., units)."""

    def __init__(self, pieces: int):
        super().__init__()
        self.pieces = pieces

    def forward(self, x: Tensor) -> Tensor:
        return x.unflatten(-1, (-1, self.pieces)).amax(-1)


def _init_(net: nn.Sequential) -> nn.Sequential:
    for module in net:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, WEIGHT_STD)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return net


class PacGANGenerator(nn.Module):
    """G(z) = Linear(ReLU(BN(Linear(... z ...)))) with ``layers`` hidden BN+ReLU layers."""

    def __init__(self, z_dim: int, out_dim: int, hidden: int = 400, layers: int = 4, batchnorm: bool = True):
        super().__init__()
        self.z_dim = z_dim
        self.num_classes = 0
        modules: list[nn.Module] = []
        width = z_dim
        for _ in range(layers):
            modules.append(nn.Linear(width, hidden, bias=not batchnorm))
            if batchnorm:
                modules.append(nn.BatchNorm1d(hidden, momentum=BATCHNORM_MOMENTUM))
            modules.append(nn.ReLU())
            width = hidden
        modules.append(nn.Linear(width, out_dim))
        self.net = _init_(nn.Sequential(*modules))

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(z)


class PacGANDiscriminator(nn.Module):
    """D(x) = Linear(Maxout(... Maxout(x) ...)): ``layers`` maxout layers of ``hidden`` units, 5 pieces each."""

    def __init__(self, in_dim: int, hidden: int = 200, layers: int = 3, pieces: int = MAXOUT_PIECES):
        super().__init__()
        self.num_classes = 0
        modules: list[nn.Module] = []
        width = in_dim
        for _ in range(layers):
            modules += [nn.Linear(width, hidden * pieces), Maxout(pieces)]
            width = hidden
        modules.append(nn.Linear(width, 1))
        self.net = _init_(nn.Sequential(*modules))

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(x.flatten(1)).squeeze(1)


__all__ = ["Maxout", "PacGANGenerator", "PacGANDiscriminator", "MAXOUT_PIECES"]
