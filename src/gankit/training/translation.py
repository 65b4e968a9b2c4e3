"""Image-to-image translation training: pix2pix and CycleGAN, each step shaped like its paper.

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

The run directory is the unconditional loop's (``config.json``, ``run.json``, ``metrics.jsonl``,
``samples/``, ``checkpoints/``), with ``generator.safetensors`` holding every generator of the run
(``G_AB``, and ``G_BA`` for CycleGAN), which is all :func:`gankit.translate.translate` needs. There is
no weight average (EMA): the papers have none. Randomness comes from one seeded ``torch.Generator`` (data,
pools, jitter) and torch's global RNG (dropout), both saved in checkpoints, so resuming is exact.

The loss terms are in :mod:`gankit.translation_losses`, the networks in
:mod:`gankit.training.translation_models`, the recipes' task defaults and config checks in
:mod:`gankit.training.translation_config`; the run's bookkeeping (checkpoints, resume, logging,
rollback, TensorBoard, torchrun) is the :class:`~gankit.training.harness.Harness`'s. This module holds
the two steps and what they log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.config import Config
from gankit.data.paired import TranslationData, build_translation_data
from gankit.errors import GankitError
from gankit.grids import save_grid
from gankit.training.harness import Harness
from gankit.training.image_pool import ImagePool
from gankit.training.precision import set_layout
from gankit.training.translation_config import TRANSLATION_RECIPES, check_translation_config, check_translation_recipe
from gankit.training.translation_models import build_translation_models, generator_arch, generator_names
from gankit.translation_losses import AdversarialLoss, adversarial_loss, cyclegan_generator_loss, pix2pix_generator_loss

SNAPSHOT_EXAMPLES = 8
EVAL_BATCH = 256


# ----------------------------------------------------------------------------------------------
# Evaluation and snapshots
# ----------------------------------------------------------------------------------------------


@torch.no_grad()
def _apply(net: nn.Module, x: Tensor) -> Tensor:
    """``net(x)`` in eval mode (running batch-norm statistics, no dropout), in batches."""
    was_training = net.training
    net.eval()
    try:
        return torch.cat([net(chunk) for chunk in x.split(EVAL_BATCH)])
    finally:
        net.train(was_training)


def heldout_metrics(generators: nn.ModuleDict, direction: str, source: Tensor, target: Tensor, paired: bool) -> dict[str, float]:
    """Held-out L1 (paired data) and, with two generators, cycle-reconstruction L1 of each domain."""
    forward, backward = generator_names(direction)
    fake = _apply(generators[forward], source)
    record = {}
    if paired:
        record["heldout_l1"] = (fake - target).abs().mean().item()
    if backward in generators:
        src, tgt = direction[0], direction[-1]
        record[f"heldout_cycle_l1_{src}"] = (_apply(generators[backward], fake) - source).abs().mean().item()
        fake_back = _apply(generators[backward], target)
        record[f"heldout_cycle_l1_{tgt}"] = (_apply(generators[forward], fake_back) - target).abs().mean().item()
    return record


def _rgb(x: Tensor) -> Tensor:
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def write_translation_snapshot(path: Path, generators: nn.ModuleDict, direction: str, source: Tensor, target: Tensor) -> None:
    """Rows of images: inputs, translations, targets (paired) — or for CycleGAN a, G(a), F(G(a)), b, F(b), G(F(b))."""
    forward, backward = generator_names(direction)
    fake = _apply(generators[forward], source)
    if backward in generators:
        fake_back = _apply(generators[backward], target)
        rows = [source, fake, _apply(generators[backward], fake), target, fake_back, _apply(generators[forward], fake_back)]
    else:
        rows = [source, fake, target]
    save_grid(torch.cat([_rgb(r) for r in rows]), path, nrow=source.shape[0])


# ----------------------------------------------------------------------------------------------
# The steps
# ----------------------------------------------------------------------------------------------


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
    layout: object  # the batches' memory format (train.channels_last)

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


# ----------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------


@dataclass
class TranslationResult:
    run_dir: Path
    steps: int
    seconds: float
    last_record: dict  # the last logged metrics (losses, held-out L1 / cycle L1, steps_per_s)
    generators: nn.ModuleDict  # "G_AB" (and "G_BA"), trained
    discriminators: nn.ModuleDict


def _load_data(config: Config, device: torch.device, split: str) -> TranslationData:
    d = config.data
    return build_translation_data(d.name, device, split=split, image_size=d.image_size or None, channels=d.channels or None)


def _check_data(config: Config, data: TranslationData, cycle: bool) -> None:
    if not cycle and not data.paired:
        raise GankitError(f"pix2pix needs paired data, but {config.data.name!r} is unpaired: use the cyclegan recipe")
    if len(data) < 1:
        raise GankitError(f"translation data {config.data.name!r} is empty")
    if cycle and config.loss.identity_weight > 0 and data.shape_a[0] != data.shape_b[0]:
        raise GankitError(
            f"the identity loss maps each domain onto itself, but A has {data.shape_a[0]} channel(s) and B {data.shape_b[0]}: "
            "set loss.identity_weight=0"
        )


def train_translation(config: Config, run_dir: str | Path, resume: bool = False, progress: bool | None = None) -> TranslationResult:
    """Train a pix2pix or CycleGAN ``config`` into ``run_dir`` (created, or continued from its last checkpoint),
    with the run directory locked from its first write on, as :func:`gankit.training.loop.train` does."""
    check_translation_recipe(config.recipe)
    check_translation_config(config)
    cycle, t, direction = TRANSLATION_RECIPES[config.recipe] == "cycle", config.train, config.data.direction
    with Harness(config, run_dir, progress) as harness:
        device, ddp = harness.device, harness.ddp
        data, heldout = _load_data(config, device, "train"), _load_data(config, device, "test")
        _check_data(config, data, cycle)
        models = build_translation_models(config, data.shape_a, data.shape_b)
        generators, discriminators = models.generators.to(device), models.discriminators.to(device)
        nhwc, layout = set_layout(t.channels_last, data.shape_a if direction == "AtoB" else data.shape_b, device,
                                  generators, discriminators)  # nets and batches
        forward, backward = generator_names(direction)
        target_d, source_d = ("D_B", "D_A") if direction == "AtoB" else ("D_A", "D_B")
        nets = {"G": generators[forward], "D_target": discriminators[target_d]}
        if cycle:
            nets.update(F=generators[backward], D_source=discriminators[source_d])
        opt_g, opt_d = harness.optimizers(generators.parameters(), discriminators.parameters())
        pools = Pools(target=ImagePool(t.pool_size), source=ImagePool(t.pool_size if cycle else 0))
        lw = config.loss
        step = TranslationStep(config, data, harness.rng, nets, {k: ddp.wrap(n, device) for k, n in nets.items()},
                               opt_g, opt_d, pools, adversarial_loss(lw.name, lw.lsgan_a, lw.lsgan_b, lw.lsgan_c), layout)
        harness.track(generators=generators, discriminators=discriminators, pools=pools)
        harness.add_totals("loss_d", "loss_g", "g_adv", *(["cycle"] + (["identity"] if lw.identity_weight > 0 else []) if cycle else ["l1"]))
        harness.sampler, harness.sampler_info = generators, {"ema": False, "generators": sorted(generators.keys())}

        # Fixed held-out examples for snapshots and the logged metrics.
        eval_a, eval_b = heldout.examples(t.eval_samples)
        eval_source, eval_target = (eval_a, eval_b) if direction == "AtoB" else (eval_b, eval_a)

        def sample(path: Path) -> dict[str, float]:
            metrics = heldout_metrics(generators, direction, eval_source, eval_target, heldout.paired)
            write_translation_snapshot(path, generators, direction, eval_source[:SNAPSHOT_EXAMPLES], eval_target[:SNAPSHOT_EXAMPLES])
            return metrics

        start = harness.open(resume, {
            "task": config.recipe, "shape_a": list(data.shape_a), "shape_b": list(data.shape_b), "paired": data.paired,
            "direction": direction, "arch": generator_arch(config.model, config.recipe), "generators": sorted(generators.keys()),
            "layout": "NHWC" if nhwc else "NCHW",  # what train.channels_last chose
        })  # fmt: skip
        generators.train()
        discriminators.train()
        record = harness.loop(start, step, sample)
        return TranslationResult(harness.run_dir.path, t.steps, harness.seconds(), record, generators, discriminators)
