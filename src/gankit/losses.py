"""GAN losses as pure functions of discriminator outputs (in the style of TF-GAN).

Every function takes raw discriminator outputs — logits for the minimax family, unbounded scores for
LSGAN, hinge and WGAN — of any shape ((N,), (N, 1), or a PatchGAN map (N, 1, H, W)) and reduces by the
mean over every element. Real and fake batches are averaged separately, so they may differ in size.
``D(x) = σ(logit)``; ``log D`` is never formed from ``σ`` directly: ``−log σ(l) = softplus(−l)`` and
``−log(1 − σ(l)) = softplus(l)`` stay finite for any logit.

:func:`get_loss` picks a (discriminator, generator) pair by name so the training loop has no branches.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch.nn.functional as F
from torch import Tensor

from gankit.divergences import F_DIVERGENCES, fgan_discriminator_loss, fgan_generator_loss
from gankit.errors import GankitError, did_you_mean, unknown

__all__ = [
    "minimax_discriminator_loss",
    "minimax_generator_loss",
    "modified_generator_loss",
    "least_squares_discriminator_loss",
    "least_squares_generator_loss",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
    "GanLoss",
    "get_loss",
    "loss_names",
]


# --- minimax GAN (Goodfellow et al. 2014, "Generative Adversarial Nets") -------------------------------


def minimax_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """``−E[log D(x)] − E[log(1 − D(G(z)))]`` with ``D = σ(logit)`` (Goodfellow et al. 2014, Eq. 1).

    The binary cross-entropy of labelling real as 1 and fake as 0; its minimum over D is
    ``log 4 − 2·JSD(P_data, P_g)``.
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def minimax_generator_loss(fake_logits: Tensor) -> Tensor:
    """``E[log(1 − D(G(z)))]``, the saturating generator loss of the minimax game (Goodfellow et al. 2014).

    Its gradient vanishes when D confidently rejects the fakes (``D(G(z)) → 0``), i.e. early in training.
    """
    return -F.softplus(fake_logits).mean()


def modified_generator_loss(fake_logits: Tensor) -> Tensor:
    """``−E[log D(G(z))]``, the non-saturating generator loss (Goodfellow et al. 2014, Sec. 3).

    Same fixed point as the minimax loss but strong gradients when ``D(G(z)) → 0``.
    """
    return F.softplus(-fake_logits).mean()


# --- least squares GAN (Mao et al. 2017, "Least Squares Generative Adversarial Networks") --------------


def least_squares_discriminator_loss(
    real_scores: Tensor, fake_scores: Tensor, a: float = 0.0, b: float = 1.0
) -> Tensor:
    """``½ E[(D(x) − b)²] + ½ E[(D(G(z)) − a)²]`` (Mao et al. 2017, Eq. 2); ``a``: fake label, ``b``: real label.

    ``D`` is the raw score (no sigmoid). With ``b − c = 1, b − a = 2`` (e.g. a=−1, b=1, c=0) the game
    minimises the Pearson χ² divergence between ``P_data + P_g`` and ``2 P_g``; a=0, b=c=1 is the common choice.
    """
    return 0.5 * ((real_scores - b) ** 2).mean() + 0.5 * ((fake_scores - a) ** 2).mean()


def least_squares_generator_loss(fake_scores: Tensor, c: float = 1.0) -> Tensor:
    """``½ E[(D(G(z)) − c)²]`` (Mao et al. 2017, Eq. 2); ``c`` is the value G wants D to believe for fakes."""
    return 0.5 * ((fake_scores - c) ** 2).mean()


# --- hinge (Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018, "Spectral Normalization") --------------


def hinge_discriminator_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """``E[relu(1 − D(x))] + E[relu(1 + D(G(z)))]`` (Lim & Ye 2017; Miyato et al. 2018, Eq. 16).

    A margin loss: scores beyond ±1 on the right side contribute nothing.
    """
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def hinge_generator_loss(fake_scores: Tensor) -> Tensor:
    """``−E[D(G(z))]`` (Lim & Ye 2017; Miyato et al. 2018, Eq. 17)."""
    return -fake_scores.mean()


# --- Wasserstein GAN (Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN") ------------------------------


def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """``E[D(G(z))] − E[D(x)]`` (Arjovsky et al. 2017, Algorithm 1).

    For a 1-Lipschitz critic (clipping, gradient penalty or spectral norm) ``−loss`` at the optimum is the
    Kantorovich-Rubinstein estimate of ``W₁(P_data, P_g)``.
    """
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: Tensor) -> Tensor:
    """``−E[D(G(z))]`` (Arjovsky et al. 2017, Algorithm 1)."""
    return -fake_scores.mean()


# --- registry ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GanLoss:
    """A named pair of losses: ``discriminator(real_out, fake_out)`` and ``generator(fake_out)``; both minimised."""

    name: str
    discriminator: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]
    description: str


@dataclass(frozen=True)
class _Params:
    """Every parameter :func:`get_loss` accepts; each loss reads only the ones it needs."""

    lsgan_a: float = 0.0
    lsgan_b: float = 1.0
    lsgan_c: float = 1.0
    fgan_saturating: bool = False


_PARAM_NAMES = tuple(_Params.__dataclass_fields__)


def _fgan(key: str) -> Callable[[_Params], GanLoss]:
    divergence = F_DIVERGENCES[key]

    def build(p: _Params) -> GanLoss:
        mode = "saturating E_Q[−f*(g_f(V))]" if p.fgan_saturating else "−E_Q[g_f(V)] (Nowozin Sec. 3.2)"
        return GanLoss(
            name=f"fgan-{key}",
            discriminator=partial(fgan_discriminator_loss, divergence=divergence),
            generator=partial(fgan_generator_loss, divergence=divergence, saturating=p.fgan_saturating),
            description=f"f-GAN, {divergence.title} (Nowozin et al. 2016); generator loss {mode}",
        )

    return build


_BUILDERS: dict[str, Callable[[_Params], GanLoss]] = {
    "minimax": lambda p: GanLoss(
        "minimax",
        minimax_discriminator_loss,
        minimax_generator_loss,
        "original minimax GAN, saturating generator loss E[log(1 − D(G(z)))] (Goodfellow et al. 2014)",
    ),
    "nsgan": lambda p: GanLoss(
        "nsgan",
        minimax_discriminator_loss,
        modified_generator_loss,
        "minimax discriminator, non-saturating generator loss −E[log D(G(z))] (Goodfellow et al. 2014)",
    ),
    "lsgan": lambda p: GanLoss(
        "lsgan",
        partial(least_squares_discriminator_loss, a=p.lsgan_a, b=p.lsgan_b),
        partial(least_squares_generator_loss, c=p.lsgan_c),
        f"least squares GAN, a={p.lsgan_a:g} b={p.lsgan_b:g} c={p.lsgan_c:g} (Mao et al. 2017)",
    ),
    "hinge": lambda p: GanLoss(
        "hinge",
        hinge_discriminator_loss,
        hinge_generator_loss,
        "hinge loss (Lim & Ye 2017; Miyato et al. 2018)",
    ),
    "wgan": lambda p: GanLoss(
        "wgan",
        wasserstein_critic_loss,
        wasserstein_generator_loss,
        "Wasserstein critic/generator losses; needs a Lipschitz constraint (Arjovsky et al. 2017)",
    ),
    **{f"fgan-{key}": _fgan(key) for key in F_DIVERGENCES},
}


def loss_names() -> list[str]:
    """Every name :func:`get_loss` accepts, in registry order."""
    return list(_BUILDERS)


def _check_param(name: str, value: object) -> None:
    if name == "fgan_saturating":
        if not isinstance(value, bool):
            raise GankitError(f"loss parameter 'fgan_saturating' must be true or false, got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise GankitError(f"loss parameter {name!r} must be a number, got {value!r}")


def get_loss(name: str, **params: object) -> GanLoss:
    """The :class:`GanLoss` called ``name`` (see :func:`loss_names`).

    Accepted ``params`` (for every loss; a loss ignores the ones it does not use): ``lsgan_a`` (fake label,
    0), ``lsgan_b`` (real label, 1), ``lsgan_c`` (generator target, 1) and ``fgan_saturating`` (False).
    Unknown names or parameters raise :class:`~gankit.errors.GankitError`.
    """
    if name not in _BUILDERS:
        raise unknown("loss", name, _BUILDERS)
    for key, value in params.items():
        if key not in _PARAM_NAMES:
            raise GankitError(f"unknown loss parameter {key!r}{did_you_mean(key, _PARAM_NAMES)}")
        _check_param(key, value)
    return _BUILDERS[name](_Params(**params))
