"""The training loop: one function, read top to bottom, shaped like the papers' algorithm boxes.

    for each generator step:
        repeat n_critic times:                          (k in Goodfellow et al., n_critic in WGAN)
            x ~ data, z ~ N(0, I)
            L_D = loss.discriminator(D(x), D(G(z)))  [+ λ·GP]     then clip D's weights (WGAN)
        z ~ N(0, I)
        L_G = loss.generator(D(G(z)))
        EMA of G's weights; learning-rate schedule; log, snapshot, checkpoint

The loop knows no data set, network or loss by name: all come from registries via the config.
Every random draw goes through one ``torch.Generator`` on the device, so a run is a function of
its seed, and a checkpoint holds every RNG state so that resuming continues exactly.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gankit.config import Config, OptimConfig
from gankit.data import build_from_config
from gankit.errors import GankitError, TrainingStopped
from gankit.losses import get_loss
from gankit.nets import build_networks, resolve_arch, sample_latent
from gankit.penalties import (
    add_instance_noise, apply_spectral_norm, clip_weights_, gradient_penalty, instance_noise_std, orthogonal_regularization,
)
from gankit.progress import training_bar, wants_progress
from gankit.training.compilation import begin_step, compiled
from gankit.training.distributed import convert_sync_batchnorm, init_distributed
from gankit.training.checkpoint import (
    checkpoint_name, latest_checkpoint, load_checkpoint, os_error_reason, prune_checkpoints, remove_stale_temporaries,
    save_checkpoint,
)
from gankit.training.ema import EMA
from gankit.training.precision import set_layout, with_precision
from gankit.training.run_dir import RunDir, ensure_writable, hold_directory
from gankit.training.signals import GracefulStop
from gankit.training.snapshots import quick_metrics, write_snapshot
from gankit.training.tensorboard import open_tensorboard


RANK_SEED_STRIDE = 1_000_003


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    seconds: float
    last_record: dict
    generator: nn.Module  # the trained networks (unwrapped), for callers that inspect them
    discriminator: nn.Module
    sampler: nn.Module  # what sampling uses: the EMA generator when enabled


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; anything else as given (checked to exist)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GankitError(f"config key 'train.device': {name!r} requested but CUDA is not available")
    return device


def make_optimizer(optim: OptimConfig, params, lr: float) -> torch.optim.Optimizer:
    """The optimiser named by ``optim.name`` (Adam, RMSProp as in WGAN, SGD with momentum as in GAN).

    Fused (one kernel for all parameters) where torch has it: on small networks the per-parameter
    update loop otherwise costs as much as the forward and backward passes (3x slower Adam step
    measured on a 3x128 MLP on CPU).
    """
    params = list(params)
    if optim.name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(optim.beta1, optim.beta2), fused=True)
    if optim.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, foreach=True)
    return torch.optim.SGD(params, lr=lr, momentum=optim.momentum, fused=True)


def build_models(config: Config, shape: tuple[int, ...], num_classes: int, device: torch.device) -> tuple[nn.Module, nn.Module]:
    """G and D for this config, on ``device``; spectral norm on D if asked."""
    generator, discriminator = build_networks(config.model, shape, num_classes)
    if config.model.spectral_norm:
        apply_spectral_norm(discriminator)
    return generator.to(device), discriminator.to(device)


def train(config: Config, run_dir: str | Path, resume: bool = False, progress: bool | None = None,
          networks: tuple[nn.Module, nn.Module] | None = None) -> TrainResult:
    """Train ``config`` into ``run_dir`` (created, or continued from its last checkpoint if ``resume``).

    ``networks`` replaces the (G, D) the config describes, e.g. a seed ensemble (gankit.sweep). From its
    first write on, the run directory is locked (:func:`~gankit.training.run_dir.hold_directory`): a second
    process cannot train into it, or resume it, at the same time.
    """
    with contextlib.ExitStack() as lock:  # entered below, released however training ends
        return _train(config, run_dir, resume, progress, networks, lock)


def _train(config: Config, run_dir: str | Path, resume: bool, progress: bool | None,
           networks: tuple[nn.Module, nn.Module] | None, lock: contextlib.ExitStack) -> TrainResult:
    run = RunDir(Path(run_dir))
    t = config.train
    ddp = init_distributed(resolve_device(t.device))
    device = ddp.device(resolve_device(t.device))
    torch.manual_seed(t.seed)  # the same initial weights on every rank
    rng = torch.Generator(device=device).manual_seed(t.seed + RANK_SEED_STRIDE * ddp.rank)  # each rank its own batches

    dataset = build_from_config(config.data, device)
    if ddp.enabled and hasattr(dataset, "shard"):
        dataset = dataset.shard(ddp.rank, ddp.world_size)
    size = len(dataset) if hasattr(dataset, "__len__") else None
    if size is not None and config.data.batch_size > size:
        raise GankitError(f"config key 'data.batch_size': {config.data.batch_size} is larger than the data set "
                          f"{config.data.name!r} ({size} examples)")
    if config.model.conditional and dataset.num_classes == 0:
        raise GankitError(f"config key 'model.conditional': recipe {config.recipe!r} needs labelled data, but data set "
                          f"{config.data.name!r} has no labels (an image folder is labelled when its images sit in "
                          f"two or more class subfolders)")
    G, D = build_models(config, dataset.shape, dataset.num_classes, device) if networks is None else (n.to(device) for n in networks)
    if config.model.sync_batchnorm and ddp.enabled:
        G, D = convert_sync_batchnorm(G, device), convert_sync_batchnorm(D, device)
    nhwc, layout = set_layout(t.channels_last, dataset.shape, device, G, D)
    G_train, D_train = ddp.wrap(G, device), ddp.wrap(D, device)  # DDP wrappers for the updates; G, D for the rest
    # The forward passes the step makes: compiled if train.compile, under bf16 autocast if train.precision=bf16
    # (scores back in fp32). The gradient penalty's pass stays eager: compiled graphs have no double backward.
    def step_pass(module: nn.Module):
        return with_precision(compiled(module, t.compile), t.precision, device)

    G_train, D_train, G_step, D_step = step_pass(G_train), step_pass(D_train), step_pass(G), step_pass(D)
    D_penalty = with_precision(D, t.precision, device)
    loss = get_loss(config.loss.name, lsgan_a=config.loss.lsgan_a, lsgan_b=config.loss.lsgan_b, lsgan_c=config.loss.lsgan_c)
    opt_g = make_optimizer(config.optim, G.parameters(), config.optim.lr_g)
    opt_d = make_optimizer(config.optim, D.parameters(), config.optim.lr_d)
    decay = (lambda step: max(0.0, 1.0 - step / t.steps)) if config.optim.lr_decay == "linear" else (lambda step: 1.0)
    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, decay)
    sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, decay)
    ema = EMA(G, t.ema) if t.ema > 0 else None
    sampler = ema.model if ema else G  # what snapshots, evaluation and generate() use
    noise_steps = config.loss.instance_noise_steps or t.steps
    conditional = G.num_classes > 0
    batch = config.data.batch_size * getattr(G, "ensemble_size", 1)  # an ensemble of S nets takes S batches at once
    # An extra term both players add to their losses, if D defines one (InfoGAN's λ·L_I(G, Q)): such a D
    # takes the fakes' latent, D(fake, labels, latent=z), and returns (scores, term) from one forward pass.
    auxiliary = hasattr(D, "auxiliary_loss")

    # Fixed inputs for snapshots, from their own generator so they do not shift the training stream.
    snapshot_rng = torch.Generator(device=device).manual_seed(t.seed + 1_000_003)
    snapshot_size = -(-max(t.eval_samples, 64) // getattr(G, "ensemble_size", 1)) * getattr(G, "ensemble_size", 1)
    snapshot_z = sample_latent(snapshot_size, G.z_dim, snapshot_rng, device)
    snapshot_real, snapshot_labels = dataset.sample(snapshot_z.shape[0], snapshot_rng)

    start = 0
    totals = {"loss_d": torch.zeros((), device=device), "loss_g": torch.zeros((), device=device), "penalty": torch.zeros((), device=device)}
    if auxiliary:
        totals["auxiliary"] = torch.zeros((), device=device)
    best = {"hq_fraction": -1.0}

    def restore(checkpoint: Path) -> int:
        """Load a checkpoint's full state; return its step."""
        state = load_checkpoint(checkpoint, map_location=device)
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        sched_g.load_state_dict(state["sched_g"])
        sched_d.load_state_dict(state["sched_d"])
        if ema:
            ema.load_state_dict(state["ema"])
        rng.set_state(state["rng_per_rank"][ddp.rank].cpu() if ddp.enabled else state["rng"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
        if device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"].cpu(), device)
        for key, value in state["totals"].items():
            totals[key] = value.to(device)
        best["hq_fraction"] = float(state.get("best_hq_fraction", -1.0))
        return int(state["step"])

    def save(step: int, is_best: bool = False) -> None:
        rng_states = ddp.gather_states(rng.get_state())  # a collective: every rank takes part
        if not ddp.is_main:
            ddp.barrier()
            return
        state = {
            "step": step,
            "G": G.state_dict(),
            "D": D.state_dict(),
            "opt_g": opt_g.state_dict(),
            "opt_d": opt_d.state_dict(),
            "sched_g": sched_g.state_dict(),
            "sched_d": sched_d.state_dict(),
            "rng": rng.get_state(),
            "rng_per_rank": rng_states,
            "torch_rng": torch.get_rng_state(),
            "totals": {k: v.detach().cpu() for k, v in totals.items()},
            "best_hq_fraction": best["hq_fraction"],
        }
        if ema:
            state["ema"] = ema.state_dict()
        if device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(device)
        target = run.checkpoints / checkpoint_name(step)
        try:
            save_checkpoint(target, state)
            if is_best:
                target = run.checkpoints / "best.pt"
                save_checkpoint(target, state)
            prune_checkpoints(run.checkpoints, t.keep_checkpoints)
            target = run.path / "generator.safetensors"
            run.save_generator(sampler, {"step": step, "ema": ema is not None})
            if ema:  # the final weights too: the EMA averages a G that hops between modes into one between them
                run.save_generator(G, {"step": step, "ema": False}, weights="final")
        except OSError as error:  # disk full, quota, read-only remount...: the write was atomic, so nothing is half-written
            last = latest_checkpoint(run.checkpoints)
            kept = f"; the last good checkpoint {str(last)!r} is intact" if last else ""
            raise GankitError(f"cannot write {str(target)!r} (step {step}): {os_error_reason(error)}{kept}") from None
        ddp.barrier()

    if resume:
        run.check_version()
        checkpoint = latest_checkpoint(run.checkpoints)
        if checkpoint is None:
            raise GankitError(f"cannot resume {str(run.path)!r}: no checkpoint in {str(run.checkpoints)!r}")
        if ddp.is_main:
            ensure_writable(run.checkpoints)  # fail now, not at the first checkpoint after minutes of training
            lock.enter_context(hold_directory(run.path, "run directory"))
        start = restore(checkpoint)
        if ddp.is_main:
            for directory in (run.path, run.checkpoints):  # what a killed process was writing when it died
                remove_stale_temporaries(directory)
            run.truncate_metrics(start)
    elif ddp.is_main:
        lock.enter_context(hold_directory(run.path, "run directory"))
        arch = resolve_arch(config.model.arch, dataset.shape)
        meta = {"data_shape": list(dataset.shape), "num_classes": dataset.num_classes, "arch": arch, "world_size": ddp.world_size}
        if len(dataset.shape) == 3:
            meta["layout"] = "NHWC" if nhwc else "NCHW"  # what train.channels_last chose
        run.create(config, meta)

    board = open_tensorboard(run.path, t.tensorboard and ddp.is_main)  # None unless train.tensorboard
    bar = training_bar(config, start, wants_progress(progress) and ddp.is_main)

    G.train()
    D.train()
    started = time.perf_counter()
    interval_start, interval_steps = started, 0
    record: dict = {}
    rollbacks = 0
    step = start
    with GracefulStop() as stop:
        while step < t.steps:
            begin_step(t.compile)
            sigma = instance_noise_std(step, config.loss.instance_noise, noise_steps) if config.loss.instance_noise > 0 else 0.0

            # --- discriminator / critic: n_critic updates -------------------------------------------
            for _ in range(t.n_critic):
                real, labels = dataset.sample(batch, rng)
                real = layout(real)
                cond = labels if conditional else None
                z = sample_latent(batch, G.z_dim, rng, device)
                with torch.no_grad():
                    fake = G_step(z, cond)
                real_in, fake_in = add_instance_noise(real, sigma, rng), add_instance_noise(fake, sigma, rng)
                real_score = D_train(real_in, cond)
                if auxiliary:
                    fake_score, extra = D_train(fake_in, cond, latent=z)
                    loss_d = loss.discriminator(real_score, fake_score) + extra
                else:
                    loss_d = loss.discriminator(real_score, D_train(fake_in, cond))
                if config.loss.gp_weight > 0:
                    penalty = gradient_penalty(
                        D_penalty, real_in, fake_in, weight=config.loss.gp_weight, one_sided=config.loss.gp_one_sided,
                        generator=rng, critic_kwargs={"labels": cond},
                    )
                    loss_d = loss_d + penalty
                    totals["penalty"] += penalty.detach() / t.n_critic  # logged per critic update
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                if config.loss.clip > 0:
                    clip_weights_(D, config.loss.clip)
            totals["loss_d"] += loss_d.detach()

            # --- generator: one update (D frozen: its gradients would be thrown away) ----------------
            z = sample_latent(batch, G.z_dim, rng, device)
            cond = dataset.sample(batch, rng)[1] if conditional else None
            fake = add_instance_noise(G_train(z, cond), sigma, rng)
            D.requires_grad_(False)
            if auxiliary:
                fake_score, extra = D_step(fake, cond, latent=z)
                loss_g = loss.generator(fake_score) + extra
                totals["auxiliary"] += extra.detach()
            else:
                loss_g = loss.generator(D_step(fake, cond))
            if config.loss.ortho_weight > 0:  # BigGAN: β·Σ‖WWᵀ ⊙ (1 − I)‖²_F over G's weights
                loss_g = loss_g + orthogonal_regularization(G, config.loss.ortho_weight)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            D.requires_grad_(True)
            opt_g.step()
            totals["loss_g"] += loss_g.detach()
            if ema:
                ema.update()
            sched_g.step()
            sched_d.step()
            interval_steps += 1
            step += 1

            # --- bookkeeping: the only host syncs, once per interval ---------------------------------
            is_best = False
            if step % t.log_every == 0 or step == t.steps:
                now = time.perf_counter()
                averaged = ddp.mean(torch.stack(list(totals.values()))).tolist()
                # The totals hold every step since the previous logging step, also those before a resume
                # or a rollback from a checkpoint between logging steps (not only this process's interval_steps).
                counted = step - (step - 1) // t.log_every * t.log_every
                record = {"step": step, **{k: v / counted for k, v in zip(totals, averaged)}}
                for v in totals.values():
                    v.zero_()
                bad = [k for k in ("loss_d", "loss_g") if not math.isfinite(record[k])]
                if bad:
                    message = f"training diverged at step {step}: {bad[0]} = {record[bad[0]]}"
                    last = latest_checkpoint(run.checkpoints)
                    if t.on_divergence != "rollback" or last is None or rollbacks >= t.max_rollbacks:
                        raise GankitError(f"{message} (try a lower learning rate, or train.on_divergence=rollback)")
                    # Roll back to the last good state and continue with smaller learning rates.
                    rollbacks += 1
                    step = restore(last)
                    for scheduler in (sched_g, sched_d):
                        scheduler.base_lrs = [lr * t.rollback_lr_factor for lr in scheduler.base_lrs]
                        for group, lr in zip(scheduler.optimizer.param_groups, scheduler.get_last_lr()):
                            group["lr"] = lr * t.rollback_lr_factor
                    if ddp.is_main:
                        run.truncate_metrics(step)
                        run.log({"step": step, "event": f"{message}; rolled back to {last.name}, learning rates x{t.rollback_lr_factor}"})
                    interval_start, interval_steps = time.perf_counter(), 0
                    if bar:
                        bar.n = step
                    continue
                record.update(lr_g=sched_g.get_last_lr()[0], lr_d=sched_d.get_last_lr()[0], sigma=sigma,
                              steps_per_s=interval_steps / max(now - interval_start, 1e-9), time=now - started)
                interval_start, interval_steps = now, 0
                if ddp.is_main and (step % t.sample_every == 0 or step == t.steps):
                    record.update(quick_metrics(dataset, sampler, snapshot_z, snapshot_labels))
                    snapshot = run.samples / f"step-{step:08d}.png"
                    try:
                        write_snapshot(snapshot, dataset, sampler, D, snapshot_z, snapshot_real, snapshot_labels)
                    except OSError as error:
                        raise GankitError(f"cannot write {str(snapshot)!r} (step {step}): {os_error_reason(error)}") from None
                    if record.get("hq_fraction", -1.0) > best["hq_fraction"]:
                        best["hq_fraction"], is_best = record["hq_fraction"], True
                if ddp.is_main:
                    run.log(record)
                    if board:
                        board.write(record)
                if bar:
                    bar.set_postfix(loss_d=f"{record['loss_d']:.3f}", loss_g=f"{record['loss_g']:.3f}", refresh=False)
            # One process polls its signal flag every step; several agree on it at logging steps only.
            stopping = stop.requested is not None
            if ddp.enabled:
                at_log_step = step % t.log_every == 0 or step == t.steps
                stopping = ddp.any(stopping, device) if at_log_step else False
                is_best = ddp.any(is_best, device) if at_log_step else False
            if step % t.checkpoint_every == 0 or step == t.steps or stopping or is_best:
                save(step, is_best)
            if bar:
                bar.update(1)
            if stopping:
                if bar:
                    bar.close()
                raise TrainingStopped(f"{stop.requested or 'SIGTERM'} received: stopped at step {step} with a checkpoint; "
                                      f"continue with `gankit train --resume {run.path}`", stop.requested or "SIGTERM")
    if bar:
        bar.close()
    return TrainResult(run.path, t.steps, time.perf_counter() - started, record, G, D, sampler)
