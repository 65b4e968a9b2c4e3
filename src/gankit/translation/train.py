"""Image-to-image translation training: a pix2pix or CycleGAN run (the steps are in :mod:`gankit.translation.step`).

The run directory is the unconditional loop's (``config.json``, ``run.json``, ``metrics.jsonl``,
``samples/``, ``checkpoints/``), with ``generator.safetensors`` holding every generator of the run
(``G_AB``, and ``G_BA`` for CycleGAN), which is all :func:`gankit.translation.translate.translate` needs. There is
no weight average (EMA): the papers have none. Randomness comes from one seeded ``torch.Generator`` (data,
pools, jitter) and torch's global RNG (dropout), both saved in checkpoints, so resuming is exact.

The loss terms are in :mod:`gankit.translation.losses`, the networks in :mod:`gankit.translation.nets`,
the recipes' task defaults and config checks in :mod:`gankit.translation.config`; the run's bookkeeping
(checkpoints, resume, logging, rollback, TensorBoard, torchrun) is the
:class:`~gankit.training.harness.Harness`'s. This module builds the run and holds what it logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.config import Config
from gankit.errors import GankitError
from gankit.grids import save_grid
from gankit.training.harness import Harness
from gankit.training.precision import set_layout
from gankit.translation.config import TRANSLATION_RECIPES, check_translation_config, check_translation_recipe
from gankit.translation.data import build_translation_data
from gankit.translation.datasets import TranslationData
from gankit.translation.image_pool import ImagePool
from gankit.translation.losses import adversarial_loss
from gankit.translation.nets import build_translation_models, generator_arch, generator_names
from gankit.translation.step import Pools, TranslationStep

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
