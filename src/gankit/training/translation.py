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
:mod:`gankit.training.translation_config`; this module holds the loop and what it logs.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.config import Config
from gankit.data.paired import TranslationData, build_translation_data
from gankit.errors import GankitError, TrainingStopped
from gankit.grids import save_grid
from gankit.progress import training_bar, wants_progress
from gankit.training.checkpoint import checkpoint_identity, checkpoint_name, latest_checkpoint, load_checkpoint, prune_checkpoints, save_checkpoint
from gankit.training.image_pool import ImagePool
from gankit.training.loop import make_optimizer, resolve_device
from gankit.training.precision import set_layout
from gankit.training.run_dir import RunDir, hold_directory
from gankit.training.signals import GracefulStop
from gankit.training.translation_config import (
    DEFAULT_TASKS,
    TASK_DEFAULTS,
    TRANSLATION_RECIPES,
    check_translation_config,
    check_translation_recipe,
    is_translation_recipe,
    resolve_translation_config,
)
from gankit.training.translation_models import build_generator, build_translation_models, generator_arch, generator_names
from gankit.translation_losses import AdversarialLoss, adversarial_loss, cyclegan_generator_loss, pix2pix_generator_loss

__all__ = [
    "train_translation",
    "TranslationResult",
    "lr_factor",
    # Re-exported from their own modules (named above), where they used to live:
    "TRANSLATION_RECIPES",
    "TASK_DEFAULTS",
    "DEFAULT_TASKS",
    "is_translation_recipe",
    "resolve_translation_config",
    "AdversarialLoss",
    "adversarial_loss",
    "pix2pix_generator_loss",
    "cyclegan_generator_loss",
    "generator_names",
    "build_generator",
    "build_translation_models",
]

SNAPSHOT_EXAMPLES = 8
EVAL_BATCH = 256


# ----------------------------------------------------------------------------------------------
# Learning-rate schedule
# ----------------------------------------------------------------------------------------------


def lr_factor(step: int, steps: int, decay: str, decay_start: float) -> float:
    """Learning-rate multiplier after ``step`` updates: 1, then (``decay = linear``) falling linearly from
    1 at ``s0 = ⌊decay_start · steps⌋`` to 0 at ``steps``: ``1 − (step − s0) / (steps − s0)``."""
    if decay != "linear":
        return 1.0
    start = int(decay_start * steps)
    if step <= start:
        return 1.0
    return max(0.0, 1.0 - (step - start) / max(steps - start, 1))


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
# The loop
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


def train_translation(config: Config, run_dir: str | Path, resume: bool = False, progress: bool | None = None) -> TranslationResult:
    """Train a pix2pix or CycleGAN ``config`` into ``run_dir`` (created, or continued from its last checkpoint),
    with the run directory locked from its first write on, as :func:`gankit.training.loop.train` does."""
    with contextlib.ExitStack() as lock:  # entered below, released however training ends
        return _train_translation(config, run_dir, resume, progress, lock)


def _train_translation(config: Config, run_dir: str | Path, resume: bool, progress: bool | None,
                       lock: contextlib.ExitStack) -> TranslationResult:
    check_translation_recipe(config.recipe)
    check_translation_config(config)
    cycle = TRANSLATION_RECIPES[config.recipe] == "cycle"
    run = RunDir(Path(run_dir))
    t, lw = config.train, config.loss
    device = resolve_device(t.device)
    torch.manual_seed(t.seed)
    rng = torch.Generator(device=device).manual_seed(t.seed)

    data = _load_data(config, device, "train")
    heldout = _load_data(config, device, "test")
    if not cycle and not data.paired:
        raise GankitError(f"pix2pix needs paired data, but {config.data.name!r} is unpaired: use the cyclegan recipe")
    if len(data) < 1:
        raise GankitError(f"translation data {config.data.name!r} is empty")
    a_to_b = config.data.direction == "AtoB"
    source_shape, target_shape = (data.shape_a, data.shape_b) if a_to_b else (data.shape_b, data.shape_a)
    if cycle and lw.identity_weight > 0 and source_shape[0] != target_shape[0]:
        raise GankitError(
            f"the identity loss maps each domain onto itself, but A has {data.shape_a[0]} channel(s) and B {data.shape_b[0]}: "
            "set loss.identity_weight=0"
        )
    models = build_translation_models(config, data.shape_a, data.shape_b)
    generators, discriminators = models.generators.to(device), models.discriminators.to(device)
    nhwc, layout = set_layout(t.channels_last, source_shape, device, generators, discriminators)  # nets and batches
    forward_name, backward_name = generator_names(config.data.direction)
    G = generators[forward_name]
    F_ = generators[backward_name] if cycle else None
    target_d, source_d = ("D_B", "D_A") if a_to_b else ("D_A", "D_B")
    D_target = discriminators[target_d]
    D_source = discriminators[source_d] if cycle else None

    adversarial = adversarial_loss(lw.name, lw.lsgan_a, lw.lsgan_b, lw.lsgan_c)
    opt_g = make_optimizer(config.optim, generators.parameters(), config.optim.lr_g)
    opt_d = make_optimizer(config.optim, discriminators.parameters(), config.optim.lr_d)
    schedule = lambda step: lr_factor(step, t.steps, config.optim.lr_decay, config.optim.decay_start)  # noqa: E731
    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, schedule)
    sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, schedule)
    pools = {"target": ImagePool(t.pool_size), "source": ImagePool(t.pool_size if cycle else 0)}

    # Fixed held-out examples for snapshots and the logged metrics.
    eval_a, eval_b = heldout.examples(t.eval_samples)
    eval_source, eval_target = (eval_a, eval_b) if a_to_b else (eval_b, eval_a)
    snap_source, snap_target = eval_source[:SNAPSHOT_EXAMPLES], eval_target[:SNAPSHOT_EXAMPLES]

    term_names = ["loss_d", "loss_g", "g_adv"] + (["cycle"] + (["identity"] if lw.identity_weight > 0 else []) if cycle else ["l1"])
    totals = {k: torch.zeros((), device=device) for k in term_names}

    def state() -> dict:
        s = {
            "generators": generators.state_dict(), "discriminators": discriminators.state_dict(),
            "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
            "sched_g": sched_g.state_dict(), "sched_d": sched_d.state_dict(),
            "pools": {k: p.state_dict() for k, p in pools.items()},
            "rng": rng.get_state(), "torch_rng": torch.get_rng_state(),
            "totals": {k: v.detach().cpu() for k, v in totals.items()},
        }  # fmt: skip
        if device.type == "cuda":
            s["cuda_rng"] = torch.cuda.get_rng_state(device)
        return s

    def restore(checkpoint: Path) -> int:
        s = load_checkpoint(checkpoint, map_location=device, identity=checkpoint_identity(config))
        generators.load_state_dict(s["generators"])
        discriminators.load_state_dict(s["discriminators"])
        opt_g.load_state_dict(s["opt_g"])
        opt_d.load_state_dict(s["opt_d"])
        sched_g.load_state_dict(s["sched_g"])
        sched_d.load_state_dict(s["sched_d"])
        for k, p in pools.items():
            p.load_state_dict(s["pools"][k])
        rng.set_state(s["rng"].cpu())
        torch.set_rng_state(s["torch_rng"].cpu())
        if device.type == "cuda" and "cuda_rng" in s:
            torch.cuda.set_rng_state(s["cuda_rng"].cpu(), device)
        for k, v in s["totals"].items():
            totals[k] = v.to(device)
        return int(s["step"])

    def save(step: int) -> None:
        try:
            save_checkpoint(run.checkpoints / checkpoint_name(step), {"step": step, **state()}, checkpoint_identity(config))
            prune_checkpoints(run.checkpoints, t.keep_checkpoints)
            run.save_generator(generators, {"step": step, "ema": False, "generators": sorted(generators.keys())})
        except OSError as error:
            last = latest_checkpoint(run.checkpoints)
            kept = f"; the last good checkpoint {last.name} is intact" if last else ""
            raise GankitError(f"cannot write checkpoint for step {step} in {str(run.checkpoints)!r}: {error.strerror}{kept}") from None

    start = 0
    if resume:
        run.check_version()
        checkpoint = latest_checkpoint(run.checkpoints)
        if checkpoint is None:
            raise GankitError(f"cannot resume {str(run.path)!r}: no checkpoint in {str(run.checkpoints)!r}")
        lock.enter_context(hold_directory(run.path, "run directory"))
        start = restore(checkpoint)
        run.truncate_metrics(start)
    else:
        lock.enter_context(hold_directory(run.path, "run directory"))
        run.create(config, {
            "task": config.recipe, "shape_a": list(data.shape_a), "shape_b": list(data.shape_b), "paired": data.paired,
            "direction": config.data.direction, "arch": generator_arch(config.model, config.recipe), "generators": sorted(generators.keys()),
            "layout": "NHWC" if nhwc else "NCHW",  # what train.channels_last chose
        })  # fmt: skip

    bar = training_bar(config, start, wants_progress(progress))

    generators.train()
    discriminators.train()
    started = time.perf_counter()
    interval_start, interval_steps = started, 0
    record: dict = {}
    step = start
    with GracefulStop() as stop:
        while step < t.steps:
            a, b = data.sample(config.data.batch_size, rng)
            source, target = (layout(a), layout(b)) if a_to_b else (layout(b), layout(a))

            if not cycle:
                # --- pix2pix: D on (input, real) vs (input, G(input)), then G ----------------------------
                fake = G(source)
                fake_pair = pools["target"].query(torch.cat([source, fake], 1), rng)
                loss_d = adversarial.discriminator(D_target(torch.cat([source, target], 1)), D_target(fake_pair))
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                D_target.requires_grad_(False)  # G's step needs D's input gradients, not its weight gradients
                terms = pix2pix_generator_loss(D_target(torch.cat([source, fake], 1)), fake, target, adversarial, lw.l1_weight)
                opt_g.zero_grad(set_to_none=True)
                terms["total"].backward()
                opt_g.step()
                D_target.requires_grad_(True)
            else:
                # --- CycleGAN: G and F on the adversarial + cycle (+ identity) loss, then D_A and D_B -----
                fake = G(source)
                fake_back = F_(target)
                discriminators.requires_grad_(False)
                same_t, same_s = (G(target), F_(source)) if lw.identity_weight > 0 else (None, None)
                terms = cyclegan_generator_loss(
                    D_target(fake), D_source(fake_back), source, F_(fake), target, G(fake_back),
                    adversarial, lw.cycle_weight, lw.identity_weight, same_b=same_t, same_a=same_s,
                )  # fmt: skip
                opt_g.zero_grad(set_to_none=True)
                terms["total"].backward()
                opt_g.step()
                discriminators.requires_grad_(True)
                loss_d = adversarial.discriminator(D_target(target), D_target(pools["target"].query(fake, rng))) + \
                    adversarial.discriminator(D_source(source), D_source(pools["source"].query(fake_back, rng)))
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()

            totals["loss_d"] += loss_d.detach()
            totals["loss_g"] += terms["total"].detach()
            totals["g_adv"] += terms["adv"].detach()
            for k in term_names[3:]:
                totals[k] += terms[k].detach()
            sched_g.step()
            sched_d.step()
            step += 1
            interval_steps += 1

            # --- bookkeeping: host syncs once per interval -------------------------------------------
            if step % t.log_every == 0 or step == t.steps:
                now = time.perf_counter()
                values = torch.stack(list(totals.values())).tolist()
                record = {"step": step, **{k: v / max(interval_steps, 1) for k, v in zip(totals, values)}}
                for v in totals.values():
                    v.zero_()
                bad = [k for k in ("loss_d", "loss_g") if not math.isfinite(record[k])]
                if bad:
                    raise GankitError(f"training diverged at step {step}: {bad[0]} = {record[bad[0]]} (try a lower learning rate)")
                record.update(lr_g=sched_g.get_last_lr()[0], lr_d=sched_d.get_last_lr()[0],
                              steps_per_s=interval_steps / max(now - interval_start, 1e-9), time=now - started)
                if step % t.sample_every == 0 or step == t.steps:
                    record.update(heldout_metrics(generators, config.data.direction, eval_source, eval_target, heldout.paired))
                    write_translation_snapshot(run.samples / f"step-{step:08d}.png", generators, config.data.direction, snap_source, snap_target)
                run.log(record)
                interval_start, interval_steps = time.perf_counter(), 0
                if bar:
                    bar.set_postfix(loss_d=f"{record['loss_d']:.3f}", loss_g=f"{record['loss_g']:.3f}", refresh=False)
            stopping = stop.requested is not None
            if step % t.checkpoint_every == 0 or step == t.steps or stopping:
                save(step)
            if bar:
                bar.update(1)
            if stopping:
                if bar:
                    bar.close()
                raise TrainingStopped(f"{stop.requested} received: stopped at step {step} with a checkpoint; "
                                      f"continue with `gankit train --resume {run.path}`", stop.requested)
    if bar:
        bar.close()
    return TranslationResult(run.path, t.steps, time.perf_counter() - started, record, generators, discriminators)

