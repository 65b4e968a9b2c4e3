"""One folder per run (after stylegan2-ada): everything needed to inspect, resume or sample.

    DIR/config.json          the resolved config (every field, after recipe and overrides)
    DIR/run.json             what the run was made from: gankit/torch versions, data shape, classes, layout
    DIR/metrics.jsonl        one JSON object per logging interval (losses, learning rates, timings)
    DIR/samples/             snapshots over training (scatter plots or image grids)
    DIR/checkpoints/         step-XXXXXXXX.pt: full training state for exact resume
    DIR/generator.safetensors + generator.json   the sampling generator alone (EMA weights if enabled)
    DIR/eval.json            written by ``gankit eval``
    DIR/eval-history.jsonl   one ``gankit eval`` result per line, with "step" (charted by ``gankit report``)

A run directory may come from someone else: before anything in it is read or written, it is checked
to hold only regular files and folders, and every file in it is opened without following links
(:mod:`gankit.training.safe_files`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import time
from dataclasses import dataclass
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors, save as save_safetensors

from gankit import __version__
from gankit.config import SECTIONS, Config, apply_overrides, config_from_dict
from gankit.errors import GankitError
from gankit.training.checkpoint import checkpoint_identity, latest_checkpoint, load_checkpoint, step_of
from gankit.training.distributed import launched_rank
from gankit.training.finite import non_finite_entry
from gankit.training.safe_files import (
    MAX_LOG_BYTES, MAX_WEIGHTS_BYTES, atomic_write_bytes, check_tree, create_fresh, open_in_place, os_error_reason,
    read_bytes, read_text,
)

EVAL_HISTORY_NAME = "eval-history.jsonl"


def next_run_dir(root: str | Path, label: str) -> Path:
    """``root/00007-label``: the next free number, like stylegan2-ada's results folders."""
    root = Path(root)
    numbers = [int(m.group(1)) for p in root.glob("*") if (m := re.match(r"(\d{5})-", p.name))] if root.is_dir() else []
    return root / f"{max(numbers, default=-1) + 1:05d}-{label}"


LOCK_NAME = ".lock"
_HELD: set[str] = set()  # folders this process holds the lock of (a nested hold_directory is a no-op)


@contextlib.contextmanager
def hold_directory(path: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on the folder ``path`` (created if need be) while the block runs, so that
    two gankit processes cannot write into one run at once (say, a resume started while the run still
    goes on elsewhere). An advisory ``flock`` on ``path/.lock``: the system drops it when its holder
    dies, however it dies, so no stale lock outlives a killed process. Re-entrant within a process."""
    key = os.path.realpath(path)
    if key in _HELD:
        yield
        return
    ensure_writable(path)
    try:
        import fcntl
    except ImportError:  # not a POSIX system: no flock, so no guard
        yield
        return
    lock_path = path / LOCK_NAME
    try:
        handle = open_in_place(lock_path, "r+")
    except OSError as error:
        raise GankitError(f"cannot write {str(lock_path)!r}: {os_error_reason(error)}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise GankitError(f"{what} {str(path)!r} is in use by another gankit process (pid {holder}); "
                              "wait for it to end, or stop it") from None
        except OSError:  # a file system without locks (some network mounts): train unguarded rather than not at all
            yield
            return
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def resuming(path: Path, changes: dict[str, Any]) -> Iterator[Config]:
    """The config of the run in ``path`` with ``changes`` (``train.steps``, ``train.device``) applied, for the
    block that resumes it: validated first (files, version, checkpoint against the steps), then locked, and
    only then is config.json rewritten, so a refused resume leaves every file as it was."""
    run = RunDir(Path(path))
    config = apply_overrides(run.load_config(), changes)
    run.check_resumable(config)
    if launched_rank() != 0:  # torchrun: rank 0 holds the lock and writes; the others read and train alongside
        yield config
        return
    with hold_directory(run.path, "run directory"):
        if changes:
            run.save_config(config)
        yield config


def check_written_version(written: Any, what: str, path: Path) -> None:
    """Refuse state written by another gankit major.minor version (``written``: the version it recorded)."""
    written = str(written or "unknown")
    if written.split(".")[:2] != __version__.split(".")[:2]:
        raise GankitError(f"{what} {str(path)!r} was written by gankit {written}; this is gankit {__version__}")


def ensure_writable(path: Path) -> None:
    """Fail before training if the run directory cannot be created or written."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        os.close(create_fresh(probe))
        probe.unlink()
    except OSError as error:
        raise GankitError(f"cannot write to run directory {str(path)!r}: {os_error_reason(error)}") from None


@dataclass
class RunDir:
    path: Path

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    def create(self, config: Config, meta: dict[str, Any]) -> None:
        ensure_writable(self.path)
        check_tree(self.path)
        self.checkpoints.mkdir(exist_ok=True)
        self.samples.mkdir(exist_ok=True)
        write_json(self.config_path, config.to_dict())
        write_json(self.path / "run.json", {"gankit_version": __version__, "torch_version": torch.__version__, **meta})

    def load_config(self) -> Config:
        """config.json, validated key by key, after checking the whole folder (:func:`check_tree`)."""
        check_tree(self.path)
        if not self.config_path.is_file():
            raise GankitError(f"{str(self.path)!r} is not a gankit run directory (no config.json)")
        tree = read_json_object(self.config_path)
        missing = [key for key in ("recipe", *SECTIONS) if key not in tree]
        if missing:
            raise GankitError(f"{str(self.config_path)!r} has no {missing[0]!r} (not a config gankit wrote)")
        config = config_from_dict(tree)
        from gankit.recipes import get_recipe

        try:
            get_recipe(config.recipe)
        except GankitError as error:
            raise GankitError(f"{str(self.config_path)!r}: {error}") from None
        return config

    def save_config(self, config: Config) -> None:
        """Rewrite config.json (``gankit train --resume DIR --steps N`` extends a run this way)."""
        write_json(self.config_path, config.to_dict())

    def load_meta(self, required: tuple[str, ...] = ()) -> dict[str, Any]:
        """run.json, with its shapes (``data_shape``; ``shape_a``, ``shape_b`` of translation runs: 1 or 3
        positive integers) and ``num_classes`` checked, and the ``required`` keys present."""
        path = self.path / "run.json"
        meta = read_json_object(path)
        for key in [*required, *(k for k in ("data_shape", "shape_a", "shape_b") if k in meta and k not in required)]:
            shape = meta.get(key)
            if not (isinstance(shape, list) and len(shape) in (1, 3) and all(_is_count(v) for v in shape)):
                raise GankitError(f"{str(path)!r}: {key!r} must be a list of 1 or 3 positive integers, got {shape!r}")
        classes = meta.get("num_classes", 0)
        if not (_is_count(classes) or classes == 0):
            raise GankitError(f"{str(path)!r}: 'num_classes' must be a non-negative integer, got {classes!r}")
        return meta

    def check_version(self) -> None:
        """Refuse to resume a run written by another gankit major.minor version (its state may differ)."""
        if not (self.path / "run.json").is_file():
            raise GankitError(f"{str(self.path)!r} is not a gankit run directory (no run.json)")
        check_written_version(self.load_meta().get("gankit_version"), "run directory", self.path)

    def check_resumable(self, config: Config) -> None:
        """Refuse, before anything is written, a resume of ``config`` that cannot go ahead: another gankit
        version, no checkpoint, a damaged or foreign last checkpoint, one past ``train.steps``, a checkpoint
        folder that cannot be written. (The last checkpoint is read twice, here and by the resume.)"""
        self.check_version()
        last = latest_checkpoint(self.checkpoints)
        if last is None:
            raise GankitError(f"cannot resume {str(self.path)!r}: no checkpoint in {str(self.checkpoints)!r}")
        load_checkpoint(last, identity=checkpoint_identity(config))
        steps = config.train.steps
        if step_of(last) > steps:
            raise GankitError(f"cannot resume {str(self.path)!r} to step {steps}: its last checkpoint {str(last)!r} "
                              f"is at step {step_of(last)} already")
        ensure_writable(self.checkpoints)  # fail now, not at the first checkpoint after minutes of training

    def log(self, record: dict[str, Any]) -> None:
        try:
            with open_in_place(self.metrics_path, "a") as handle:
                handle.write(json.dumps(record) + "\n")
                handle.flush()
        except OSError as error:
            raise GankitError(f"cannot write {str(self.metrics_path)!r}: {os_error_reason(error)}") from None

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.is_file():
            return []
        records = []
        for line in read_bytes(self.metrics_path, MAX_LOG_BYTES).decode("utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                continue  # a line cut short by a killed process
            if isinstance(record, dict) and isinstance(record.get("step", 0), (int, float)):
                records.append(record)
        return records

    def truncate_metrics(self, after_step: int) -> None:
        """Drop records past ``after_step`` (written after the checkpoint a resume starts from)."""
        kept = [r for r in self.read_metrics() if r.get("step", 0) <= after_step]
        text = "".join(json.dumps(r) + "\n" for r in kept)
        atomic_write_bytes(self.metrics_path, lambda handle: handle.write(text.encode()))

    def save_generator(self, generator: torch.nn.Module, info: dict[str, Any], weights: str = "sampler") -> None:
        """Write ``generator``'s weights: ``weights="sampler"`` the sampling generator (generator.safetensors +
        generator.json: the EMA when the run keeps one), ``"final"`` the raw G of an EMA run (generator-final.*)."""
        data = save_safetensors({k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()})
        stem = GENERATOR_FILES[weights]
        atomic_write_bytes(self.path / f"{stem}.safetensors", lambda handle: handle.write(data))
        write_json(self.path / f"{stem}.json", info)

    def has_final_generator(self) -> bool:
        """Whether the run kept an EMA, so that its final (raw) G is a file of its own."""
        return (self.path / f"{GENERATOR_FILES['final']}.safetensors").is_file()

    def load_generator_state(self, weights: str | None = None) -> dict[str, torch.Tensor]:
        """The weights of the sampling generator (``None``), or of ``"ema"`` / ``"final"``, checked to exist."""
        stem = self._generator_stem(weights)
        path = self.path / f"{stem}.safetensors"
        if not path.is_file():
            raise GankitError(f"run directory {str(self.path)!r} has no {path.name} (did training finish a checkpoint?)")
        try:
            state = load_safetensors(read_bytes(path, MAX_WEIGHTS_BYTES))
        except OSError as error:
            raise GankitError(f"cannot read {str(path)!r}: {os_error_reason(error)}") from None
        except (SafetensorError, ValueError, RuntimeError, TypeError) as error:  # truncated, garbage, huge header
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise GankitError(f"{str(path)!r} is not readable safetensors weights ({reason[:200]})") from None
        if (bad := non_finite_entry(state)) is not None:  # training never writes one: a file from elsewhere
            raise GankitError(f"{str(path)!r} holds non-finite weights ({bad}): a diverged generator cannot sample")
        return state

    def _generator_stem(self, weights: str | None) -> str:
        if weights not in (None, "ema", "final"):
            raise GankitError(f"weights must be 'ema' or 'final', got {weights!r}")
        if weights == "final" and self.has_final_generator():
            return GENERATOR_FILES["final"]
        if weights == "ema" and not self.has_final_generator():
            raise GankitError(f"run {str(self.path)!r} kept no EMA of its generator (train.ema was 0): "
                              "its only weights are the final ones (--weights final)")
        return GENERATOR_FILES["sampler"]


# The files of a run's generator weights: the sampling generator (EMA weights when the run keeps an EMA,
# else the final ones), and, for an EMA run, the final (raw) weights beside it.
GENERATOR_FILES = {"sampler": "generator", "final": "generator-final"}


def finite_or_none(data: Any) -> Any:
    """Replace inf/NaN floats by None: standard JSON (jq, JavaScript) has no Infinity."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite_or_none(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite_or_none(v) for v in data]
    return data


def write_json(path: Path, data: Any) -> None:
    text = json.dumps(finite_or_none(data), indent=2, allow_nan=False) + "\n"
    atomic_write_bytes(Path(path), lambda handle: handle.write(text.encode()))


def read_json(path: Path) -> Any:
    """A JSON file of a run directory (a regular file, at most 16 MiB, UTF-8); GankitError naming it otherwise."""
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise GankitError(f"missing file {str(path)!r}") from None
    except OSError as error:
        raise GankitError(f"cannot read {str(path)!r}: {os_error_reason(error)}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise GankitError(f"{str(path)!r} is not valid JSON: {error}") from None
    except RecursionError:
        raise GankitError(f"{str(path)!r} is not valid JSON: nested too deeply") from None


def read_json_object(path: Path) -> dict[str, Any]:
    """:func:`read_json` of a file that must hold a JSON object."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise GankitError(f"{str(path)!r} must hold a JSON object, not {type(data).__name__ if data is not None else 'null'}")
    return data


def _is_count(value: Any) -> bool:
    """A positive integer (JSON booleans are not)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def now() -> float:
    return time.perf_counter()
