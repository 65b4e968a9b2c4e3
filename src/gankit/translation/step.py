"""The pix2pix and CycleGAN steps, each shaped like its paper's algorithm.

pix2pix (Isola et al. 2017), paired data ``(a, b)``; G maps a -> b, D judges *pairs* (input, output):

    b̂ = G(a)                                  (dropout in G is the only noise)
    L_D = ½ [ℓ_real(D(a, b)) + ℓ_fake(D(a, b̂))]                          -> D update
    L_G = ℓ_G(D(a, b̂)) + λ_L1 · E|b − b̂|          (λ_L1 = 100)          -> G update

CycleGAN (Zhu et al. 2017), unpaired data; G: A -> B, F: B -> A, D_B judges B images, D_A judges A images:

    b̂ = G(a), â' = F(b̂);  â = F(b), b̂' = G(â)
    L_G = ℓ_G(D_B(b̂)) + ℓ_G(D_A(â)) + λ (E|â' − a| + E|b̂' − b|)
          + λ_id · λ (E|G(b) − b| + E|F(a) − a|)       (λ = 10, λ_id = 0.5)   -> G and F update
    L_D = ½ [ℓ_real(D_B(b)) + ℓ_fake(D_B(pool_B(b̂)))] + ½ [same for D_A, a, pool_A(â)]    -> D_A, D_B update

``ℓ`` is pix2pix's binary cross-entropy on logits (``loss.name = nsgan``: G maximises log D, the
non-saturating form the paper uses) or CycleGAN's least squares (``lsgan``: G minimises E[(D − 1)²], D
minimises ½ E[(D(y) − 1)²] + ½ E[D(ŷ)²]). D's objective is halved in both papers "to slow D down
relative to G". The pools hold the last ``train.pool_size`` fakes (50 for CycleGAN, off for pix2pix).
Adam (2e-4, β1 0.5); the learning rate stays constant, then decays linearly to 0 from
``optim.decay_start · train.steps`` (the papers' 100 + 100 epochs = 0.5). The step order follows the
reference implementation: pix2pix updates D then G, CycleGAN G then D, on the same forward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit.config import Config
from gankit.translation.config import TRANSLATION_RECIPES
from gankit.translation.datasets import TranslationData
from gankit.translation.losses import AdversarialLoss, cyclegan_generator_loss, pix2pix_generator_loss


class Pools(dict):
    """The image pools of a run by role ("target", "source"), held in checkpoints as one state."""

    def state_dict(self) -> dict:
        return {k: p.state_dict() for k, p in self.items()}

    def load_state_dict(self, state: dict) -> None:
        for k, p in self.items():
            p.load_state_dict(state[k])


@dataclass
class TranslationStep:
    """One pix2pix or CycleGAN step on a batch of ``data``. ``G`` maps source to target, ``F`` back (CycleGAN);
    ``D_target`` judges targets (pix2pix: (input, output) pairs), ``D_source`` sources; the ``*_train``
    passes are the ones whose backward updates (DDP under torchrun), the others are used frozen."""

    config: Config
    data: TranslationData
    rng: torch.Generator
    nets: dict[str, nn.Module]  # G, F, D_target, D_source (unwrapped)
    train_nets: dict[str, nn.Module]  # the same, as updated
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    pools: Pools
    adversarial: AdversarialLoss
    layout: Callable[[Tensor], Tensor]  # the batches' memory format (train.channels_last)

    def __call__(self, totals: dict[str, Tensor]) -> dict[str, float]:
        a, b = self.data.sample(self.config.data.batch_size, self.rng)
        a, b = self.layout(a), self.layout(b)
        source, target = (a, b) if self.config.data.direction == "AtoB" else (b, a)
        cycle = TRANSLATION_RECIPES[self.config.recipe] == "cycle"
        loss_d, terms = (self.cyclegan if cycle else self.pix2pix)(source, target)
        totals["loss_d"] += loss_d.detach()
        totals["loss_g"] += terms["total"].detach()
        totals["g_adv"] += terms["adv"].detach()
        for k in list(totals)[3:]:
            totals[k] += terms[k].detach()
        return {}

    def pix2pix(self, source: Tensor, target: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """D on (input, real) vs (input, G(input)), then G on the adversarial + λ_L1·L1 loss."""
        D, G_train, D_train = self.nets["D_target"], self.train_nets["G"], self.train_nets["D_target"]
        fake = G_train(source)
        fake_pair = self.pools["target"].query(torch.cat([source, fake], 1), self.rng)
        loss_d = self.adversarial.discriminator(D_train(torch.cat([source, target], 1)), D_train(fake_pair))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        D.requires_grad_(False)  # G's step needs D's input gradients, not its weight gradients
        terms = pix2pix_generator_loss(D(torch.cat([source, fake], 1)), fake, target, self.adversarial, self.config.loss.l1_weight)
        self.opt_g.zero_grad(set_to_none=True)
        terms["total"].backward()
        self.opt_g.step()
        D.requires_grad_(True)
        return loss_d, terms

    def cyclegan(self, source: Tensor, target: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """G and F on the adversarial + cycle (+ identity) loss, then D_target and D_source."""
        lw, pools, rng = self.config.loss, self.pools, self.rng
        G, F, D_t, D_s = (self.train_nets[k] for k in ("G", "F", "D_target", "D_source"))
        fake = G(source)
        fake_back = F(target)
        frozen = [self.nets["D_target"], self.nets["D_source"]]
        for D in frozen:
            D.requires_grad_(False)
        same_t, same_s = (G(target), F(source)) if lw.identity_weight > 0 else (None, None)
        terms = cyclegan_generator_loss(
            frozen[0](fake), frozen[1](fake_back), source, F(fake), target, G(fake_back),
            self.adversarial, lw.cycle_weight, lw.identity_weight, same_b=same_t, same_a=same_s,
        )  # fmt: skip
        self.opt_g.zero_grad(set_to_none=True)
        terms["total"].backward()
        self.opt_g.step()
        for D in frozen:
            D.requires_grad_(True)
        loss_d = self.adversarial.discriminator(D_t(target), D_t(pools["target"].query(fake, rng))) + \
            self.adversarial.discriminator(D_s(source), D_s(pools["source"].query(fake_back, rng)))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        return loss_d, terms
