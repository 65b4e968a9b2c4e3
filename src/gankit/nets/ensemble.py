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
Batch norm (statistics would mix members) and spectral norm (a norm of the stacked tensor) do not
separate and are refused.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.errors import GankitError


class StackedLinear(nn.Module):
    """S independent ``nn.Linear`` layers applied to (S, B, in) -> (S, B, out)."""

    def __init__(self, layers: list[nn.Linear]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))  # (S, out, in)
        self.bias = nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]))  # (S, out)

    def forward(self, x: Tensor) -> Tensor:
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))

    def member(self, index: int) -> tuple[Tensor, Tensor]:
        return self.weight[index], self.bias[index]


def _stack(members: list[nn.Module]) -> nn.Sequential:
    """Stack members whose ``.net`` is a Sequential of Linear and activation layers."""
    layers: list[nn.Module] = []
    for position, module in enumerate(members[0].net):
        if isinstance(module, nn.Linear):
            layers.append(StackedLinear([member.net[position] for member in members]))
        elif isinstance(module, (nn.ReLU, nn.LeakyReLU, nn.Tanh)):
            layers.append(module)
        else:
            raise GankitError(f"seed ensembles support Linear and activation layers only, not {type(module).__name__} "
                              "(turn off model.g_batchnorm / model.d_batchnorm)")
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
            stacked = [m for m in self.net if isinstance(m, StackedLinear)]
            for index, member in enumerate(members):
                linears = [m for m in member.net if isinstance(m, nn.Linear)]
                for layer, source in zip(linears, stacked):
                    weight, bias = source.member(index)
                    layer.weight.copy_(weight)
                    layer.bias.copy_(bias)
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
