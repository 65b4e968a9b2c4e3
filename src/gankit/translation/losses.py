"""Loss terms of image-to-image translation (pix2pix, CycleGAN) as pure functions of scores and images.

pix2pix (Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial Networks", Eq. 4):

    G* = arg min_G max_D  L_cGAN(G, D) + λ · L_L1(G),   L_L1 = E|b − G(a)|,   λ = 100

CycleGAN (Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
Networks", Eqs. 1-3 and Sec. 5.2), with G: A -> B, F: B -> A and LSGAN adversarial terms:

    L = L_LSGAN(G, D_B) + L_LSGAN(F, D_A) + λ_cyc · (‖F(G(a)) − a‖₁ + ‖G(F(b)) − b‖₁)
        + 0.5 · λ_cyc · (‖G(b) − b‖₁ + ‖F(a) − a‖₁)           (identity term; λ_cyc = 10)

The adversarial pairs are :func:`gankit.losses.get_loss`'s ``nsgan`` and ``lsgan``, rescaled the way the
papers weigh them (see :func:`adversarial_loss`). Nothing here knows about networks, optimisers or the
training loop (:mod:`gankit.translation.train`).
"""

from __future__ import annotations

from dataclasses import replace

from torch import Tensor

from gankit.errors import GankitError
from gankit.losses import GanLoss, get_loss

__all__ = ["AdversarialLoss", "adversarial_loss", "pix2pix_generator_loss", "cyclegan_generator_loss"]

# A translation paper's adversarial terms: ``discriminator(real_scores, fake_scores)`` (already halved)
# and ``generator(fake_scores)``, both minimised — a :class:`~gankit.losses.GanLoss` like any other.
AdversarialLoss = GanLoss


def adversarial_loss(name: str, lsgan_a: float = 0.0, lsgan_b: float = 1.0, lsgan_c: float = 1.0) -> AdversarialLoss:
    """The adversarial terms of the translation papers, on raw PatchGAN scores (mean over patches and batch).

    - ``nsgan`` (pix2pix): ``L_D = ½ [softplus(−D(x, y)) + softplus(D(x, ŷ))]`` (half the binary cross-entropy:
      halving D's objective slows D down relative to G), ``L_G = softplus(−D(x, ŷ)) = −log σ(D(x, ŷ))``.
    - ``lsgan`` (CycleGAN, Mao et al. 2017): ``L_D = ½ E[(D(y) − b)²] + ½ E[(D(ŷ) − a)²]``,
      ``L_G = E[(D(ŷ) − c)²]`` (no ½: CycleGAN's λ = 10 is relative to this), a=0, b=c=1.

    That is :func:`gankit.losses.get_loss`'s pair with D halved (``nsgan``) or G doubled (``lsgan``).
    """
    if name not in ("nsgan", "lsgan"):
        raise GankitError(f"config key 'loss.name': translation recipes use 'nsgan' (pix2pix) or 'lsgan' (CycleGAN), got {name!r}")
    base = get_loss(name, lsgan_a=lsgan_a, lsgan_b=lsgan_b, lsgan_c=lsgan_c)
    if name == "nsgan":
        return replace(base, discriminator=lambda real, fake: 0.5 * base.discriminator(real, fake),
                       description=f"{base.description}; D's loss halved (Isola et al. 2017)")
    return replace(base, generator=lambda fake: 2.0 * base.generator(fake),
                   description=f"{base.description}; G's loss E[(D(G(a)) − c)²] without ½ (Zhu et al. 2017)")


def pix2pix_generator_loss(fake_scores: Tensor, fake_b: Tensor, real_b: Tensor, adversarial: AdversarialLoss, l1_weight: float) -> dict[str, Tensor]:
    """``{"adv": ℓ_G(D(a, b̂)), "l1": E|b − b̂|, "total": adv + λ·l1}`` (Isola et al. 2017, Eq. 4; λ = 100)."""
    adv = adversarial.generator(fake_scores)
    l1 = (real_b - fake_b).abs().mean()
    return {"adv": adv, "l1": l1, "total": adv + l1_weight * l1}


def cyclegan_generator_loss(
    scores_fake_b: Tensor,
    scores_fake_a: Tensor,
    real_a: Tensor,
    cycled_a: Tensor,
    real_b: Tensor,
    cycled_b: Tensor,
    adversarial: AdversarialLoss,
    cycle_weight: float,
    identity_weight: float = 0.0,
    same_b: Tensor | None = None,
    same_a: Tensor | None = None,
) -> dict[str, Tensor]:
    """The CycleGAN objective for G: A -> B and F: B -> A (Zhu et al. 2017, Eqs. 2-3 and Sec. 5.2).

    ``adv = ℓ_G(D_B(G(a))) + ℓ_G(D_A(F(b)))``; ``cycle = E|F(G(a)) − a| + E|G(F(b)) − b|`` (L1);
    ``identity = E|G(b) − b| + E|F(a) − a|`` (``same_b = G(b)``, ``same_a = F(a)``; skipped when
    ``identity_weight`` is 0); ``total = adv + λ·cycle + λ_id·λ·identity`` (λ = 10, λ_id = 0.5).
    """
    adv = adversarial.generator(scores_fake_b) + adversarial.generator(scores_fake_a)
    cycle = (cycled_a - real_a).abs().mean() + (cycled_b - real_b).abs().mean()
    total = adv + cycle_weight * cycle
    terms = {"adv": adv, "cycle": cycle}
    if identity_weight > 0:
        if same_a is None or same_b is None:
            raise ValueError("identity_weight > 0 needs same_b = G(b) and same_a = F(a)")
        identity = (same_b - real_b).abs().mean() + (same_a - real_a).abs().mean()
        total = total + identity_weight * cycle_weight * identity
        terms["identity"] = identity
    terms["total"] = total
    return terms
