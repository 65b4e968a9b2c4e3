"""Lipschitz constraints and regularisers for the discriminator/critic, and G's orthogonal regulariser.

- :func:`gradient_penalty`: WGAN-GP (Gulrajani et al. 2017), and its one-sided variant (Petzka et al. 2018).
- :func:`clip_weights_`: weight clipping of the original WGAN (Arjovsky et al. 2017).
- :func:`apply_spectral_norm`: spectral normalisation (Miyato et al. 2018).
- :func:`instance_noise_std` / :func:`add_instance_noise`: annealed instance noise (Sønderby et al. 2016;
  Arjovsky & Bottou 2017).
- :func:`orthogonal_regularization`: BigGAN's off-diagonal orthogonal regulariser of G's weights (Brock et al. 2019).

Random draws take an optional ``torch.Generator`` so callers can make them reproducible; they are made on
the generator's device and moved to the data's, so a CPU generator also works with CUDA tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from gankit.errors import GankitError

__all__ = [
    "interpolate",
    "critic_gradient_norms",
    "gradient_penalty",
    "clip_weights_",
    "apply_spectral_norm",
    "instance_noise_std",
    "add_instance_noise",
    "filter_matrices",
    "orthogonal_regularization",
]

_SPECTRAL_NORM_LAYERS = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)


def _random(
    draw: Callable[..., Tensor], shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None
) -> Tensor:
    """``draw(shape)`` with ``like``'s dtype/device, sampled on ``generator``'s device when one is given."""
    device = generator.device if generator is not None else like.device
    return draw(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)


def interpolate(real: Tensor, fake: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """``x̂ = ε·x + (1 − ε)·x̃`` with one ``ε ~ U[0, 1]`` per sample (Gulrajani et al. 2017, Algorithm 1).

    ``ε`` has shape ``(N, 1, 1, …)`` and broadcasts over the non-batch dims. Inputs are detached: the
    penalty constrains the critic, it must not push gradients into the generator.
    """
    if real.shape != fake.shape:
        raise GankitError(
            f"real and fake batches must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}"
        )
    eps = _random(torch.rand, (real.shape[0],) + (1,) * (real.dim() - 1), real, generator)
    return eps * real.detach() + (1 - eps) * fake.detach()


def critic_gradient_norms(
    critic: Callable[..., Tensor],
    inputs: Tensor,
    critic_kwargs: Mapping[str, Any] | None = None,
    create_graph: bool = True,
) -> Tensor:
    """``‖∇ₓ D(x)‖₂`` per sample, shape ``(N,)``, the norm taken over all non-batch dims.

    The critic's outputs are summed before differentiating: with per-sample outputs (no batch norm), the
    gradient of the sum w.r.t. sample ``i`` is the gradient of ``D(x_i)`` (for a PatchGAN map, of the sum of
    its patch scores). ``create_graph=True`` keeps the graph so a penalty on the norms trains the critic.
    """
    x = inputs.detach().requires_grad_(True)
    scores = critic(x, **dict(critic_kwargs or {}))
    (grads,) = torch.autograd.grad(scores.sum(), x, create_graph=create_graph)
    return grads.flatten(1).norm(dim=1)


def gradient_penalty(
    critic: Callable[..., Tensor],
    real: Tensor,
    fake: Tensor,
    weight: float = 10.0,
    one_sided: bool = False,
    generator: torch.Generator | None = None,
    critic_kwargs: Mapping[str, Any] | None = None,
) -> Tensor:
    """``λ·E_x̂[(‖∇D(x̂)‖₂ − 1)²]`` on random interpolates of real and fake (Gulrajani et al. 2017, Eq. 3).

    ``one_sided=True`` penalises only norms above 1, ``λ·E[max(0, ‖∇D(x̂)‖₂ − 1)²]`` (Petzka et al. 2018,
    "On the regularization of Wasserstein GANs"). ``critic_kwargs`` are passed to the critic (e.g. labels of
    a conditional critic; they must line up with the batch). The result is differentiable w.r.t. the critic's
    parameters. Do not use with batch-normalised critics: the penalty assumes per-sample gradients.
    """
    if weight < 0:
        raise GankitError(f"gradient penalty weight must be >= 0, got {weight}")
    norms = critic_gradient_norms(critic, interpolate(real, fake, generator), critic_kwargs)
    excess = norms - 1
    if one_sided:
        excess = excess.clamp(min=0)
    return weight * (excess**2).mean()


def clip_weights_(module: nn.Module, c: float) -> nn.Module:
    """Clamp every parameter of ``module`` to ``[−c, c]`` in place (WGAN, Arjovsky et al. 2017, Algorithm 1).

    As in the reference implementation, *all* parameters are clipped, batch-norm scales and shifts included.
    Returns ``module``.
    """
    if c <= 0:
        raise GankitError(f"weight clipping bound c must be > 0, got {c}")
    with torch.no_grad():
        for p in module.parameters():
            p.clamp_(-c, c)
    return module


def apply_spectral_norm(module: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """Reparametrise every Linear / Conv / ConvTranspose weight as ``W / σ(W)`` (Miyato et al. 2018).

    ``σ(W)`` is estimated by ``n_power_iterations`` power-iteration steps per training-mode forward pass
    (``torch.nn.utils.parametrizations.spectral_norm``; ConvTranspose layers use their output dim 1).
    Layers already parametrised this way are left alone, so applying twice is harmless. Returns ``module``.
    """
    if n_power_iterations < 1:
        raise GankitError(f"n_power_iterations must be >= 1, got {n_power_iterations}")
    for layer in list(module.modules()):  # list first: spectral_norm adds submodules while we iterate
        if isinstance(layer, _SPECTRAL_NORM_LAYERS) and not parametrize.is_parametrized(layer, "weight"):
            spectral_norm(layer, n_power_iterations=n_power_iterations)
    return module


def instance_noise_std(step: int, initial_std: float, anneal_steps: int) -> float:
    """Linearly annealed instance-noise level ``σ_t = σ₀·max(0, 1 − t/T)``.

    Instance noise (Sønderby et al. 2016, "Amortised MAP Inference for Image Super-resolution"; Arjovsky &
    Bottou 2017, "Towards Principled Methods for Training GANs") blurs both distributions so their supports
    overlap and the discriminator cannot saturate; annealing to 0 recovers the original objective.
    """
    if initial_std < 0:
        raise GankitError(f"instance noise initial_std must be >= 0, got {initial_std}")
    if anneal_steps <= 0:
        raise GankitError(f"instance noise anneal_steps must be > 0, got {anneal_steps}")
    if step < 0:
        raise GankitError(f"training step must be >= 0, got {step}")
    return initial_std * max(0.0, 1.0 - step / anneal_steps)


def add_instance_noise(x: Tensor, std: float, generator: torch.Generator | None = None) -> Tensor:
    """``x + σ·ε`` with ``ε ~ N(0, I)``; returns ``x`` itself when ``σ = 0``.

    Apply the same ``σ`` to real and fake batches before the discriminator sees them.
    """
    if std < 0:
        raise GankitError(f"instance noise std must be >= 0, got {std}")
    if std == 0:
        return x
    return x + std * _random(torch.randn, tuple(x.shape), x, generator)


def filter_matrices(module: nn.Module) -> list[Tensor]:
    """The weight of every Linear / Conv / ConvTranspose layer of ``module`` as a matrix, one row per output unit.

    A conv weight ``(C_out, C_in, k, k)`` becomes ``(C_out, C_in·k·k)``; a transposed conv's ``(C_in, C_out, k, k)``
    is transposed first. Spectrally normalised layers give their trained parameter (before the division by σ),
    as BigGAN regularises its raw weights. Embeddings and normalisation layers are left out.
    """
    matrices = []
    for layer in module.modules():
        if isinstance(layer, _SPECTRAL_NORM_LAYERS):
            weight = layer.parametrizations.weight.original if parametrize.is_parametrized(layer, "weight") else layer.weight
            if isinstance(layer, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
                weight = weight.transpose(0, 1)
            matrices.append(weight.reshape(weight.shape[0], -1))
    return matrices


def orthogonal_regularization(module: nn.Module, beta: float = 1e-4) -> Tensor:
    """``β·Σ_W ‖W Wᵀ ⊙ (1 − I)‖²_F`` over the layers' weight matrices (rows = filters; :func:`filter_matrices`).

    BigGAN's form (Brock et al. 2019, Eq. 3, written there ``WᵀW`` with filters as columns): only the
    off-diagonal inner products are penalised, so filters are pushed towards mutual orthogonality without
    fixing their norms. Zero for orthogonal rows, positive otherwise; β = 1e-4 in the paper. Differentiable
    w.r.t. the weights, to be added to G's loss.
    """
    if beta < 0:
        raise GankitError(f"orthogonal regularisation weight must be >= 0, got {beta}")
    matrices = filter_matrices(module)
    if not matrices:
        raise GankitError(f"{type(module).__name__} has no linear or convolutional layer to regularise")
    total = sum(_off_diagonal_square_norm(w) for w in matrices)
    return beta * total


def _off_diagonal_square_norm(w: Tensor) -> Tensor:
    gram = w @ w.T
    return (gram.square().sum() - gram.diagonal().square().sum())
