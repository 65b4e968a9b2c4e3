"""Several MLPs trained as one batched model: many seeds of a toy study in one training run.

A mode-coverage study trains the same GAN over 10 seeds (PacGAN reports 10 trials). On a CPU the
toy MLPs are far too small to keep the cores busy one at a time, so gankit stacks the members'
weights, ``W: (S, out, in)``, and runs all S networks with one batched matrix multiply
(``torch.baddbmm``). The training loop is unchanged: the ensemble takes and returns flat batches of
``S·B`` examples, member ``s`` owning rows ``[s·B, (s+1)·B)``.

Why this is exact: members share no parameter, so each member's gradient depends only on its own
rows. The losses average over all ``S·B`` rows, i.e. ``(1/S)·Σ_s loss_s``; a gradient hook
multiplies every parameter's gradient by ``S``, giving each member exactly the gradient of its own
loss. The gradient penalty is per example, so it separates the same way. Element-wise optimisers
(Adam, RMSProp, SGD), weight clipping and the EMA then act on each member independently.
Batch norm separates too when each member normalises its own rows (:class:`StackedBatchNorm1d`,
one set of statistics and affine parameters per member). Spectral norm (a norm of the stacked
tensor) does not separate and is refused.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.errors import GankitError
from gankit.nets.pacgan import Maxout


class StackedLinear(nn.Module):
    """S independent ``nn.Linear`` layers (with or without bias) applied to (S, B, in) -> (S, B, out)."""

    def __init__(self, layers: list[nn.Linear]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))  # (S, out, in)
        has_bias = layers[0].bias is not None
        self.bias = nn.Parameter(torch.stack([layer.bias.detach() for layer in layers])) if has_bias else None  # (S, out)

    def forward(self, x: Tensor) -> Tensor:
        if self.bias is None:
            return torch.bmm(x, self.weight.transpose(1, 2))
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))

    def copy_member_into(self, index: int, layer: nn.Linear) -> None:
        layer.weight.copy_(self.weight[index])
        if self.bias is not None:
            layer.bias.copy_(self.bias[index])


class StackedBatchNorm1d(nn.Module):
    """S independent ``nn.BatchNorm1d`` layers on (S, B, C): member s normalises its own B rows.

    Training: y = γ_s (x − mean_s) / sqrt(var_s + eps) + β_s over member s's batch, and the running
    statistics move as BatchNorm1d's do (unbiased variance, ``momentum``); evaluation uses them.
    """

    def __init__(self, layers: list[nn.BatchNorm1d]):
        super().__init__()
        first = layers[0]
        self.eps, self.momentum = first.eps, first.momentum
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))  # (S, C)
        self.bias = nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]))
        self.register_buffer("running_mean", torch.stack([layer.running_mean for layer in layers]))
        self.register_buffer("running_var", torch.stack([layer.running_var for layer in layers]))

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            mean = x.mean(dim=1)
            var = x.var(dim=1, unbiased=False)
            with torch.no_grad():
                unbiased = var * (x.shape[1] / max(x.shape[1] - 1, 1))
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(unbiased.detach(), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        scale = self.weight * torch.rsqrt(var + self.eps)
        return (x - mean.unsqueeze(1)) * scale.unsqueeze(1) + self.bias.unsqueeze(1)

    def copy_member_into(self, index: int, layer: nn.BatchNorm1d) -> None:
        layer.weight.copy_(self.weight[index])
        layer.bias.copy_(self.bias[index])
        layer.running_mean.copy_(self.running_mean[index])
        layer.running_var.copy_(self.running_var[index])


_STACKED = {nn.Linear: StackedLinear, nn.BatchNorm1d: StackedBatchNorm1d}
_ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, Maxout)  # act on each member's rows alone, no parameters


def _stack(members: list[nn.Module]) -> nn.Sequential:
    """Stack members whose ``.net`` is a Sequential of Linear, BatchNorm1d and activation layers."""
    layers: list[nn.Module] = []
    for position, module in enumerate(members[0].net):
        if type(module) in _STACKED:
            layers.append(_STACKED[type(module)]([member.net[position] for member in members]))
        elif isinstance(module, _ELEMENTWISE):
            layers.append(module)
        else:
            raise GankitError(f"seed ensembles support Linear, BatchNorm1d and activation layers only, not {type(module).__name__}")
    return nn.Sequential(*layers)


class _Ensemble(nn.Module):
    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if len(members) < 2:
            raise GankitError("an ensemble needs at least 2 members")
        self.ensemble_size = len(members)
        self.num_classes = 0
        self.net = _stack(members)
        size = float(self.ensemble_size)
        for parameter in self.parameters():
            parameter.register_hook(lambda grad: grad * size)  # each member gets the gradient of its own mean loss

    def _run(self, x: Tensor) -> Tensor:
        if x.shape[0] % self.ensemble_size:
            raise GankitError(f"an ensemble of {self.ensemble_size} needs a batch divisible by it, got {x.shape[0]}")
        stacked = x.reshape(self.ensemble_size, x.shape[0] // self.ensemble_size, -1)
        out = self.net(stacked)
        return out.reshape(x.shape[0], -1)

    def unstack_into(self, members: list[nn.Module]) -> list[nn.Module]:
        """Copy each member's weights back into ordinary networks of the same shape."""
        with torch.no_grad():
            stacked = [m for m in self.net if hasattr(m, "copy_member_into")]
            for index, member in enumerate(members):
                layers = [m for m in member.net if type(m) in _STACKED]
                for layer, source in zip(layers, stacked, strict=True):
                    source.copy_member_into(index, layer)
        return members


class EnsembleGenerator(_Ensemble):
    """S MLP generators: z of shape (S·B, z_dim) -> samples (S·B, d)."""

    def __init__(self, members: list[nn.Module]):
        super().__init__(members)
        self.z_dim = members[0].z_dim

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self._run(z)


class EnsembleDiscriminator(_Ensemble):
    """S MLP critics: x of shape (S·B, d) -> scores (S·B,)."""

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self._run(x.flatten(1)).squeeze(1)
