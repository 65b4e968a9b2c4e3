"""f-divergences for f-GAN (Nowozin, Cseke & Tomioka 2016, "f-GAN: Training Generative Neural Samplers
using Variational Divergence Minimization", Tables 1, 2 and 6).

An f-divergence is ``D_f(P‖Q) = ∫ q(x) f(p(x)/q(x)) dx`` for a convex ``f`` with ``f(1) = 0``
(Table 2's GAN row is shifted by ``−log 4``). Its Fenchel conjugate ``f*(t) = sup_u (t·u − f(u))``
gives the variational lower bound

    D_f(P‖Q) ≥ sup_T  E_P[T(x)] − E_Q[f*(T(x))],

tight at ``T*(x) = f'(p(x)/q(x))``. The critic outputs an unconstrained score ``V(x)``; the output
activation ``g_f`` maps it into ``dom f*`` so ``T = g_f(V)``. Training maximises over the critic and
minimises over the generator the objective ``F = E_P[g_f(V(x))] − E_Q[f*(g_f(V(G(z))))]``.

Every divergence here stores ``f*(g_f(v))`` in a closed, overflow-free form (softplus / expm1) so the
loss is finite for any critic score: e.g. for the GAN divergence ``f*(g_f(v)) = softplus(v)``, while the
naive ``−log(1 − exp(−softplus(−v)))`` is ``inf`` as soon as ``exp`` rounds to 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import GankitError, unknown

__all__ = [
    "FDivergence",
    "F_DIVERGENCES",
    "get_divergence",
    "fgan_discriminator_loss",
    "fgan_generator_loss",
]

_LOG2 = math.log(2.0)
TensorFn = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class FDivergence:
    """One row of Nowozin et al.'s Table 2: generator ``f``, activation ``g_f`` and conjugate ``f*``.

    ``activated_conjugate(v)`` equals ``conjugate(activation(v))`` but is written in a numerically stable
    form; losses use it. ``dom f*`` is the open interval ``(−∞, domain_upper)``; ``conjugate`` returns
    ``+inf`` outside it (the supremum is unbounded there).
    """

    name: str
    title: str
    f: TensorFn  # generator function f(u), u = p/q > 0
    derivative: TensorFn  # f'(u); T*(x) = f'(p(x)/q(x)) is the optimal variational function
    activation: TensorFn  # g_f: ℝ → dom f*
    activation_inverse: TensorFn  # g_f⁻¹: dom f* ∩ range g_f → ℝ
    conjugate: TensorFn  # f*(t)
    activated_conjugate: TensorFn  # f*(g_f(v)), stable
    domain_upper: float  # dom f* = (−∞, domain_upper)

    @property
    def domain(self) -> str:
        """``dom f*`` as text, e.g. ``"t < 0"``."""
        return "t ∈ ℝ" if math.isinf(self.domain_upper) else f"t < {self.domain_upper:g}"

    def between(self, p: Tensor, q: Tensor) -> Tensor:
        """``D_f(P‖Q) = Σ_x q(x) f(p(x)/q(x))`` for discrete distributions on the same support (q > 0)."""
        if p.shape != q.shape:
            raise GankitError(f"p and q must have the same shape, got {tuple(p.shape)} and {tuple(q.shape)}")
        if bool((q <= 0).any()):
            raise GankitError("q must be strictly positive everywhere for D_f(P‖Q) = Σ q f(p/q)")
        return (q * self.f(p / q)).sum()

    def optimal_critic(self, ratio: Tensor) -> Tensor:
        """The critic score ``V*(x) = g_f⁻¹(f'(p(x)/q(x)))`` that makes the variational bound tight."""
        return self.activation_inverse(self.derivative(ratio))


def _masked(t: Tensor, value: Tensor, upper: float) -> Tensor:
    """``value`` inside ``dom f* = (−∞, upper)``, ``+inf`` outside (f* is unbounded there)."""
    return torch.where(t < upper, value, torch.full_like(value, math.inf))


def _kl_f(u: Tensor) -> Tensor:
    return torch.xlogy(u, u)


def _js_f(u: Tensor) -> Tensor:
    return -(u + 1) * torch.log((1 + u) / 2) + torch.xlogy(u, u)


def _gan_f(u: Tensor) -> Tensor:
    return torch.xlogy(u, u) - (u + 1) * torch.log(u + 1)


_DIVERGENCES = [
    FDivergence(
        name="kl",
        title="Kullback-Leibler KL(P‖Q)",
        f=_kl_f,
        derivative=lambda u: 1 + torch.log(u),
        activation=lambda v: v,
        activation_inverse=lambda t: t,
        conjugate=lambda t: torch.exp(t - 1),
        # exp(v − 1) grows without bound by nature; it overflows float32 only for v > ~89.
        activated_conjugate=lambda v: torch.exp(v - 1),
        domain_upper=math.inf,
    ),
    FDivergence(
        name="rkl",
        title="reverse Kullback-Leibler KL(Q‖P)",
        f=lambda u: -torch.log(u),
        derivative=lambda u: -1 / u,
        activation=lambda v: -torch.exp(-v),
        activation_inverse=lambda t: -torch.log(-t),
        conjugate=lambda t: _masked(t, -1 - torch.log(-t.clamp(max=0)), 0.0),
        # f*(−e^{−v}) = −1 − log(e^{−v}) = v − 1
        activated_conjugate=lambda v: v - 1,
        domain_upper=0.0,
    ),
    FDivergence(
        name="chi2",
        title="Pearson χ²",
        f=lambda u: (u - 1) ** 2,
        derivative=lambda u: 2 * (u - 1),
        activation=lambda v: v,
        activation_inverse=lambda t: t,
        conjugate=lambda t: t**2 / 4 + t,
        activated_conjugate=lambda v: v**2 / 4 + v,
        domain_upper=math.inf,
    ),
    FDivergence(
        name="hellinger",
        title="squared Hellinger ∫(√p − √q)²",
        f=lambda u: (torch.sqrt(u) - 1) ** 2,
        derivative=lambda u: 1 - torch.rsqrt(u),
        activation=lambda v: -torch.expm1(-v),  # 1 − e^{−v}
        activation_inverse=lambda t: -torch.log1p(-t),
        conjugate=lambda t: _masked(t, t / (1 - t), 1.0),
        # (1 − e^{−v}) / e^{−v} = e^v − 1; the naive form divides by a rounded-to-zero 1 − t.
        activated_conjugate=torch.expm1,
        domain_upper=1.0,
    ),
    FDivergence(
        # With Table 2's f, D_f = KL(P‖M) + KL(Q‖M) = 2·JSD(P,Q) (M = (P+Q)/2), at most log 4.
        # Table 1 writes the divergence with a factor ½ that its own f does not have; we follow f.
        name="js",
        title="Jensen-Shannon (2·JSD)",
        f=_js_f,
        derivative=lambda u: torch.log(2 * u / (1 + u)),
        activation=lambda v: _LOG2 - F.softplus(-v),
        activation_inverse=lambda t: -torch.log(torch.expm1(_LOG2 - t)),
        conjugate=lambda t: _masked(t, -torch.log(2 - torch.exp(t.clamp(max=_LOG2))), _LOG2),
        # −log(2 − 2σ(v)) = softplus(v) − log 2
        activated_conjugate=lambda v: F.softplus(v) - _LOG2,
        domain_upper=_LOG2,
    ),
    FDivergence(
        # D_f = 2·JSD − log 4; with D(x) = σ(V(x)) the f-GAN objective is exactly Goodfellow's minimax one.
        name="gan",
        title="GAN (2·JSD − log 4)",
        f=_gan_f,
        derivative=lambda u: torch.log(u / (u + 1)),
        activation=lambda v: -F.softplus(-v),  # log σ(v)
        activation_inverse=lambda t: -torch.log(torch.expm1(-t)),
        conjugate=lambda t: _masked(t, -torch.log1p(-torch.exp(t.clamp(max=0))), 0.0),
        # −log(1 − σ(v)) = softplus(v)
        activated_conjugate=F.softplus,
        domain_upper=0.0,
    ),
]

F_DIVERGENCES: dict[str, FDivergence] = {d.name: d for d in _DIVERGENCES}


def get_divergence(divergence: str | FDivergence) -> FDivergence:
    """Look up an f-divergence by name (``"kl"``, ``"rkl"``, ``"chi2"``, ``"hellinger"``, ``"js"``, ``"gan"``)."""
    if isinstance(divergence, FDivergence):
        return divergence
    if divergence not in F_DIVERGENCES:
        raise unknown("f-divergence", divergence, F_DIVERGENCES)
    return F_DIVERGENCES[divergence]


def fgan_discriminator_loss(real_scores: Tensor, fake_scores: Tensor, divergence: str | FDivergence) -> Tensor:
    """f-GAN critic loss ``−(E_P[g_f(V(x))] − E_Q[f*(g_f(V(G(z))))])`` (Nowozin et al. 2016, Eq. 6).

    Minimising it maximises the variational lower bound on ``D_f(P‖Q)``; at the optimum ``−loss``
    estimates the divergence. Means run over every element (PatchGAN maps included).
    """
    d = get_divergence(divergence)
    return -(d.activation(real_scores).mean() - d.activated_conjugate(fake_scores).mean())


def fgan_generator_loss(fake_scores: Tensor, divergence: str | FDivergence, saturating: bool = False) -> Tensor:
    """f-GAN generator loss.

    Default (``saturating=False``): ``−E_Q[g_f(V(G(z)))]``, the practical alternative of Nowozin et al.
    Sec. 3.2, which keeps strong gradients early in training when the critic easily rejects fakes (for the
    GAN divergence it is the non-saturating ``−E[log D(G(z))]``). ``saturating=True``: the generator
    minimises the saddle objective itself, i.e. ``E_Q[−f*(g_f(V(G(z))))]`` (for GAN, ``E[log(1 − D(G(z)))]``).
    """
    d = get_divergence(divergence)
    if saturating:
        return -d.activated_conjugate(fake_scores).mean()
    return -d.activation(fake_scores).mean()
