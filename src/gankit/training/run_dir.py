"""One folder per run (after stylegan2-ada): everything needed to inspect, resume or sample.

    DIR/config.json          the resolved config (every field, after recipe and overrides)
    DIR/run.json             what the run was made from: gankit/torch versions, data shape, classes, layout
    DIR/metrics.jsonl        one JSON object per logging interval (losses, learning rates, timings)
    DIR/samples/             snapshots over training (scatter plots or image grids)
    DIR/checkpoints/         step-XXXXXXXX.pt: full training state for exact resume
    DIR/generator.safetensors + generator.json   the sampling generator alone (EMA weights if enabled)
    DIR/eval.json            written by ``gankit eval``
    DIR/eval-history.jsonl   one ``gankit eval`` result per line, with "step" (charted by ``gankit report``)
"""

from __future__ import annotations

import contextlib
import errno
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
from safetensors.torch import load_file, save_file

from gankit import __version__
from gankit.config import Config, config_from_dict
from gankit.errors import GankitError
from gankit.training.checkpoint import atomic_write_bytes, os_error_reason, temporary_path

EVAL_HISTORY_NAME = "eval-history.jsonl"


def next_run_dir(root: str | Path, label: str) -> Path:
    """``root/00007-label``: the next free number, like stylegan2-ada's results folders."""
    root = Path(root)
    numbers = [int(m.group(1)) for p in root.glob("*") if (m := re.match(r"(\d{5})-", p.name))] if root.is_dir() else []
    return root / f"{max(numbers, default=-1) + 1:05d}-{label}"


LOCK_NAME = ".lock"


@contextlib.contextmanager
def hold_directory(path: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on the folder ``path`` (created if need be) while the block runs, so that
    two gankit processes cannot write into one run at once (say, a resume started while the run still
    goes on elsewhere). An advisory ``flock`` on ``path/.lock``: the system drops it when its holder
    dies, however it dies, so no stale lock outlives a killed process."""
    ensure_writable(path)
    try:
        import fcntl
    except ImportError:  # not a POSIX system: no flock, so no guard
        yield
        return
    lock_path = path / LOCK_NAME
    try:
        handle = open(lock_path, "a+")
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
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
        probe.write_bytes(b"ok")
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
        self.checkpoints.mkdir(exist_ok=True)
        self.samples.mkdir(exist_ok=True)
        write_json(self.config_path, config.to_dict())
        write_json(self.path / "run.json", {"gankit_version": __version__, "torch_version": torch.__version__, **meta})

    def load_config(self) -> Config:
        if not self.config_path.is_file():
            raise GankitError(f"{str(self.path)!r} is not a gankit run directory (no config.json)")
        return config_from_dict(read_json(self.config_path))

    def save_config(self, config: Config) -> None:
        """Rewrite config.json (``gankit train --resume DIR --steps N`` extends a run this way)."""
        write_json(self.config_path, config.to_dict())

    def load_meta(self) -> dict[str, Any]:
        return read_json(self.path / "run.json")

    def check_version(self) -> None:
        """Refuse to resume a run written by another gankit major.minor version (its state may differ)."""
        if not (self.path / "run.json").is_file():
            raise GankitError(f"{str(self.path)!r} is not a gankit run directory (no run.json)")
        check_written_version(self.load_meta().get("gankit_version"), "run directory", self.path)

    def log(self, record: dict[str, Any]) -> None:
        try:
            with open(self.metrics_path, "a") as handle:
                handle.write(json.dumps(record) + "\n")
                handle.flush()
        except OSError as error:
            raise GankitError(f"cannot write {str(self.metrics_path)!r}: {os_error_reason(error)}") from None

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.is_file():
            return []
        records = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a killed process
        return records

    def truncate_metrics(self, after_step: int) -> None:
        """Drop records past ``after_step`` (written after the checkpoint a resume starts from)."""
        kept = [r for r in self.read_metrics() if r.get("step", 0) <= after_step]
        text = "".join(json.dumps(r) + "\n" for r in kept)
        atomic_write_bytes(self.metrics_path, lambda handle: handle.write(text.encode()))

    def save_generator(self, generator: torch.nn.Module, info: dict[str, Any], weights: str = "sampler") -> None:
        """Write ``generator``'s weights: ``weights="sampler"`` the sampling generator (generator.safetensors +
        generator.json: the EMA when the run keeps one), ``"final"`` the raw G of an EMA run (generator-final.*)."""
        tensors = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
        stem = GENERATOR_FILES[weights]
        target = self.path / f"{stem}.safetensors"
        tmp = temporary_path(target)
        try:
            try:
                save_file(tensors, str(tmp))
            except SafetensorError as error:  # its I/O failures are not OSErrors: make them one, errno kept
                found = re.search(r"os error (\d+)", str(error))
                code = int(found.group(1)) if found else errno.EIO
                raise OSError(code, os.strerror(code), str(tmp)) from None
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):  # never hide the error that matters
                tmp.unlink(missing_ok=True)
            raise
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
        return load_file(str(path))

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
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise GankitError(f"missing file {str(path)!r}") from None
    except json.JSONDecodeError as error:
        raise GankitError(f"{str(path)!r} is not valid JSON: {error}") from None


def now() -> float:
    return time.perf_counter()
