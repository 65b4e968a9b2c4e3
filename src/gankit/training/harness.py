"""The run harness: what every training loop shares, so that a loop holds only its algorithm box.

    with Harness(config, run_dir, progress) as harness:
        ... build data and networks (the harness seeded torch and made ``harness.rng``) ...
        opt_g, opt_d = harness.optimizers(G.parameters(), D.parameters())  # with their schedules
        harness.track(G=G, D=D)                        # the rest of what a checkpoint holds
        harness.add_totals("loss_d", "loss_g")         # the logged losses
        start = harness.open(resume, meta)             # lock; create the run directory or restore it
        record = harness.loop(start, step_fn, sample_fn)  # step_fn(totals): one training step

The harness owns the run directory and its lock, the state of a run (the tracked networks, the
optimisers and their learning-rate schedules, every RNG, the running loss totals) with one
:meth:`~Harness.state_dict` / :meth:`~Harness.load_state_dict`, resume, interval averaging, the
finiteness check and rollback, the one checkpoint writer, signals, the progress bar, TensorBoard and
torchrun (after stylegan2-ada's split of ``training_loop.py`` from ``loss.py``).

No non-finite state is ever saved: every checkpoint is checked first (one reduction over its floating
tensors); a non-finite state, or non-finite logged losses, is a divergence, which stops the run
(``train.on_divergence=stop``) or rolls it back to the newest finite checkpoint with smaller learning
rates (``rollback``).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gankit.config import Config, OptimConfig
from gankit.errors import GankitError, TrainingStopped
from gankit.progress import training_bar, wants_progress
from gankit.training.checkpoint import (
    checkpoint_identity, checkpoint_name, latest_checkpoint, load_checkpoint, os_error_reason, prune_checkpoints,
    remove_stale_temporaries, save_checkpoint, step_checkpoints,
)
from gankit.training.distributed import init_distributed
from gankit.training.finite import non_finite_entry
from gankit.training.run_dir import RunDir, ensure_writable, hold_directory
from gankit.training.signals import GracefulStop
from gankit.training.tensorboard import open_tensorboard

RANK_SEED_STRIDE = 1_000_003

# step_fn(totals) -> values to log as they are (not averaged), e.g. {"sigma": ...}
StepFn = Callable[[dict[str, Tensor]], dict[str, float]]
# sample_fn(snapshot path) -> metrics of the samples, e.g. {"hq_fraction": ...}
SampleFn = Callable[[Path], dict[str, float]]


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


def lr_factor(step: int, steps: int, decay: str, decay_start: float) -> float:
    """Learning-rate multiplier after ``step`` updates: 1, then (``decay = linear``) falling linearly from
    1 at ``s0 = ⌊decay_start · steps⌋`` to 0 at ``steps``: ``1 − (step − s0) / (steps − s0)``."""
    if decay != "linear":
        return 1.0
    start = int(decay_start * steps)
    if step <= start:
        return 1.0
    return max(0.0, 1.0 - (step - start) / max(steps - start, 1))


class Harness:
    """One training run's bookkeeping (see the module docstring); a context manager that holds the run's lock."""

    def __init__(self, config: Config, run_dir: str | Path, progress: bool | None = None):
        self.config, self.t = config, config.train
        self.identity = checkpoint_identity(config)  # a checkpoint of another run is refused on resume
        self.run_dir = RunDir(Path(run_dir))
        self.ddp = init_distributed(resolve_device(self.t.device))
        self.device = self.ddp.device(resolve_device(self.t.device))
        torch.manual_seed(self.t.seed)  # the same initial weights on every rank
        # Every random draw of the loop (data, noise, pools) goes through this one generator: each rank its own batches.
        self.rng = torch.Generator(device=self.device).manual_seed(self.t.seed + RANK_SEED_STRIDE * self.ddp.rank)
        self.parts: dict[str, Any] = {}  # name -> what a checkpoint holds (anything with state_dict / load_state_dict)
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}  # "lr_g" -> G's schedule
        self.totals: dict[str, Tensor] = {}  # running sums of the logged losses since the last logging step
        self.best_metric: str | None = None  # a checkpoint is also saved as best.pt when this logged metric improves
        self.best = -1.0
        self.sampler: nn.Module | None = None  # what generator.safetensors holds
        self.sampler_info: dict[str, Any] = {}
        self.final_generator: nn.Module | None = None  # with an EMA sampler: the raw G, saved beside it
        self.started = time.perf_counter()
        self._progress = progress
        self._exit = contextlib.ExitStack()
        self._board = self._bar = None
        self._rollbacks = 0

    def seconds(self) -> float:
        """Seconds since the loop started."""
        return time.perf_counter() - self.started

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc) -> None:
        self._exit.close()

    # --- the state of a run ----------------------------------------------------------------------------

    def optimizers(self, g_params, d_params) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        """G's and D's optimisers (``optim.*``), tracked with their learning-rate schedules (:func:`lr_factor`)."""
        o = self.config.optim
        steps = o.decay_steps or self.t.steps  # the schedule's length: a run trained in stages keeps one schedule
        opt_g, opt_d = make_optimizer(o, g_params, o.lr_g), make_optimizer(o, d_params, o.lr_d)
        schedule = lambda step: lr_factor(step, steps, o.lr_decay, o.decay_start)  # noqa: E731
        sched_g, sched_d = (torch.optim.lr_scheduler.LambdaLR(opt, schedule) for opt in (opt_g, opt_d))
        self.schedulers = {"lr_g": sched_g, "lr_d": sched_d}
        self.track(opt_g=opt_g, opt_d=opt_d, sched_g=sched_g, sched_d=sched_d)
        return opt_g, opt_d

    def track(self, **parts: Any) -> None:
        """Hold ``parts`` (networks, optimisers, an EMA, image pools...) in every checkpoint, under these names."""
        self.parts.update(parts)

    def add_totals(self, *names: str) -> dict[str, Tensor]:
        """Running sums for the logged losses ``names`` (averaged over each logging interval)."""
        self.totals.update({name: torch.zeros((), device=self.device) for name in names})
        return self.totals

    def state_dict(self, step: int) -> dict[str, Any]:
        """Everything needed to continue the run exactly. A collective under torchrun (the ranks' RNG states)."""
        rng_states = self.ddp.gather_states(self.rng.get_state())
        state = {"step": step, **{name: part.state_dict() for name, part in self.parts.items()}}
        state.update(rng=self.rng.get_state(), rng_per_rank=rng_states, torch_rng=torch.get_rng_state(),
                     totals={k: v.detach().cpu() for k, v in self.totals.items()})
        if self.best_metric:
            state[f"best_{self.best_metric}"] = self.best
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> int:
        """Restore a :meth:`state_dict`; return its step."""
        for name, part in self.parts.items():
            part.load_state_dict(state[name])
        self.rng.set_state(state["rng_per_rank"][self.ddp.rank].cpu() if self.ddp.enabled else state["rng"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
        if self.device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"].cpu(), self.device)
        for key, value in state["totals"].items():
            self.totals[key] = value.to(self.device)
        if self.best_metric:
            self.best = float(state.get(f"best_{self.best_metric}", -1.0))
        return int(state["step"])

    # --- the run directory -----------------------------------------------------------------------------

    def open(self, resume: bool, meta: dict[str, Any]) -> int:
        """Lock the run directory, then create it (``meta`` goes to run.json) or restore its last checkpoint;
        open TensorBoard and the progress bar. Returns the step training starts from."""
        run, start = self.run_dir, 0
        if resume:
            run.check_version()
            checkpoint = latest_checkpoint(run.checkpoints)
            if checkpoint is None:
                raise GankitError(f"cannot resume {str(run.path)!r}: no checkpoint in {str(run.checkpoints)!r}")
            if self.ddp.is_main:
                ensure_writable(run.checkpoints)  # fail now, not at the first checkpoint after minutes of training
                self._exit.enter_context(hold_directory(run.path, "run directory"))
            start = self.load_state_dict(load_checkpoint(checkpoint, map_location=self.device, identity=self.identity))
            if self.ddp.is_main:
                for directory in (run.path, run.checkpoints):  # what a killed process was writing when it died
                    remove_stale_temporaries(directory)
                run.truncate_metrics(start)
        elif self.ddp.is_main:
            self._exit.enter_context(hold_directory(run.path, "run directory"))
            run.create(self.config, {**meta, "world_size": self.ddp.world_size})
        self._board = open_tensorboard(run.path, self.t.tensorboard and self.ddp.is_main)  # None unless train.tensorboard
        if self._board:
            self._exit.callback(self._board.close)
        self._bar = training_bar(self.config, start, wants_progress(self._progress) and self.ddp.is_main)
        if self._bar:
            self._exit.callback(self._bar.close)
        return start

    # --- the loop --------------------------------------------------------------------------------------

    def loop(self, start: int, step_fn: StepFn, sample_fn: SampleFn) -> dict[str, Any]:
        """Call ``step_fn`` until ``train.steps``; log, sample, checkpoint, roll back, stop on a signal.
        Returns the last logged record."""
        t, step, record = self.t, start, {}
        self.started = time.perf_counter()
        self._interval = (self.started, 0)  # (when the logging interval began, steps this process made in it)
        with GracefulStop() as stop:
            while step < t.steps:
                logged = step_fn(self.totals)
                for scheduler in self.schedulers.values():
                    scheduler.step()
                step += 1
                self._interval = (self._interval[0], self._interval[1] + 1)
                at_log_step = step % t.log_every == 0 or step == t.steps
                is_best = False
                if at_log_step:
                    averages = self._averages(step)
                    if (bad := next((k for k in ("loss_d", "loss_g") if not math.isfinite(averages[k])), None)):
                        step = self._diverged(step, f"{bad} = {averages[bad]}")
                        continue
                    record, is_best = self._log(step, averages, logged, sample_fn)
                # One process polls its signal flag every step; several agree on it at logging steps only.
                stopping = stop.requested is not None
                if self.ddp.enabled:
                    stopping = self.ddp.any(stopping, self.device) if at_log_step else False
                    is_best = self.ddp.any(is_best, self.device) if at_log_step else False
                if step % t.checkpoint_every == 0 or step == t.steps or stopping or is_best:
                    state = self.state_dict(step)
                    bad_entry = non_finite_entry(state)
                    if self.ddp.any(bad_entry is not None, self.device):
                        step = self._diverged(step, f"non-finite {bad_entry or 'state on another rank'}")
                        continue
                    self.save(state, is_best)
                if self._bar:
                    self._bar.update(1)
                if stopping:
                    signal = stop.requested or "SIGTERM"
                    raise TrainingStopped(f"{signal} received: stopped at step {step} with a checkpoint; "
                                          f"continue with `gankit train --resume {self.run_dir.path}`", signal)
        return record

    def _averages(self, step: int) -> dict[str, float]:
        """The mean of each logged loss over the interval that ends at ``step``, over all ranks; zeroes the totals.

        The totals hold every step since the previous logging step, also those made before a resume or a
        rollback from a checkpoint between logging steps, so the divisor is the interval's length in steps,
        not the steps this process made."""
        values = self.ddp.mean(torch.stack(list(self.totals.values()))).tolist()
        counted = step - (step - 1) // self.t.log_every * self.t.log_every
        for total in self.totals.values():
            total.zero_()
        return {k: v / counted for k, v in zip(self.totals, values)}

    def _log(self, step: int, averages: dict[str, float], logged: dict[str, float], sample_fn: SampleFn) -> tuple[dict, bool]:
        """Write the record of logging step ``step`` (and its snapshot at sampling steps); return it and
        whether its ``best_metric`` improved."""
        t, now = self.t, time.perf_counter()
        since, steps = self._interval
        record = {"step": step, **averages, **{k: s.get_last_lr()[0] for k, s in self.schedulers.items()}, **logged,
                  "steps_per_s": steps / max(now - since, 1e-9), "time": now - self.started}
        self._interval = (now, 0)
        is_best = False
        if self.ddp.is_main and (step % t.sample_every == 0 or step == t.steps):
            snapshot = self.run_dir.samples / f"step-{step:08d}.png"
            try:
                record.update(sample_fn(snapshot))
            except OSError as error:
                raise GankitError(f"cannot write {str(snapshot)!r} (step {step}): {os_error_reason(error)}") from None
            if self.best_metric and record.get(self.best_metric, -1.0) > self.best:
                self.best, is_best = record[self.best_metric], True
        if self.ddp.is_main:
            self.run_dir.log(record)
            if self._board:
                self._board.write(record)
        if self._bar:
            self._bar.set_postfix(loss_d=f"{record['loss_d']:.3f}", loss_g=f"{record['loss_g']:.3f}", refresh=False)
        return record, is_best

    # --- divergence, rollback and the checkpoint writer ------------------------------------------------

    def _diverged(self, step: int, what: str) -> int:
        """Stop with an error, or (``train.on_divergence=rollback``) restore the newest finite checkpoint, scale
        the learning rates by ``train.rollback_lr_factor`` and return its step."""
        t, message = self.t, f"training diverged at step {step}: {what}"
        found = self._last_finite_checkpoint() if t.on_divergence == "rollback" and self._rollbacks < t.max_rollbacks else None
        if found is None:
            raise GankitError(f"{message} (try a lower learning rate, or train.on_divergence=rollback)")
        self._rollbacks += 1
        path, state = found
        step = self.load_state_dict(state)
        for scheduler in self.schedulers.values():
            scheduler.base_lrs = [lr * t.rollback_lr_factor for lr in scheduler.base_lrs]
            for group, lr in zip(scheduler.optimizer.param_groups, scheduler.get_last_lr()):
                group["lr"] = lr * t.rollback_lr_factor
        if self.ddp.is_main:
            self.run_dir.truncate_metrics(step)
            self.run_dir.log({"step": step, "event": f"{message}; rolled back to {path.name}, learning rates x{t.rollback_lr_factor}"})
        self._interval = (time.perf_counter(), 0)
        if self._bar:
            self._bar.n = step
        return step

    def _last_finite_checkpoint(self) -> tuple[Path, dict[str, Any]] | None:
        """The newest step checkpoint whose state is finite (one written before this guard existed may not be)."""
        for path in reversed(step_checkpoints(self.run_dir.checkpoints)):
            state = load_checkpoint(path, map_location=self.device, identity=self.identity)
            if non_finite_entry(state) is None:
                return path, state
        return None

    def save(self, state: dict[str, Any], is_best: bool = False) -> None:
        """The one checkpoint writer: ``checkpoints/step-N.pt`` (and ``best.pt``), older ones pruned, and the
        sampler's weights in ``generator.safetensors``; rank 0 writes, the others wait. Every write is atomic,
        so a failure (disk full, quota, read-only remount) leaves the previous checkpoint intact."""
        if not self.ddp.is_main:
            self.ddp.barrier()
            return
        step, checkpoints = state["step"], self.run_dir.checkpoints
        target = checkpoints / checkpoint_name(step)
        try:
            save_checkpoint(target, state, self.identity)
            if is_best:
                target = checkpoints / "best.pt"
                save_checkpoint(target, state, self.identity)
            prune_checkpoints(checkpoints, self.t.keep_checkpoints)
            target = self.run_dir.path / "generator.safetensors"
            self.run_dir.save_generator(self.sampler, {"step": step, **self.sampler_info})
            if self.final_generator is not None:  # the EMA averages a G that hops between modes into one between them
                self.run_dir.save_generator(self.final_generator, {"step": step, "ema": False}, weights="final")
        except OSError as error:
            last = latest_checkpoint(checkpoints)
            kept = f"; the last good checkpoint {str(last)!r} is intact" if last else ""
            raise GankitError(f"cannot write {str(target)!r} (step {step}): {os_error_reason(error)}{kept}") from None
        self.ddp.barrier()
