"""Checkpoints that survive a crash, load without executing code, and are refused when damaged or foreign.

A checkpoint is one ``torch.save`` of a dict of tensors, numbers and strings, written atomically
(temporary file, fsync, rename): a run killed mid-write leaves the previous checkpoint intact. Loading
uses ``torch.load(weights_only=True)``, which refuses arbitrary Python objects, so a crafted file cannot
run code. Two keys are added on saving and checked on loading:

- ``content_sha256``: SHA-256 of everything else in the dict (tensor bytes, shapes, dtypes, numbers): a
  flipped bit is refused, not resumed from;
- ``identity``: the recipe, data size, model, loss, optimiser and EMA flag of the run that wrote it
  (:func:`checkpoint_identity`): a checkpoint copied from another run is refused, naming what differs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from gankit.config import Config
from gankit.errors import GankitError
from gankit.training.safe_files import (  # noqa: F401  (re-exported: where checkpoints' writers have always found them)
    MAX_WEIGHTS_BYTES, TEMPORARY_INFIX, atomic_write_bytes, os_error_reason, read_bytes, remove_stale_temporaries,
    temporary_path,
)

HASH_KEY = "content_sha256"
IDENTITY_KEY = "identity"
_NAMED_STEP = re.compile(r"step-(\d{8})\.pt")


def checkpoint_identity(config: Config) -> dict[str, Any]:
    """What a checkpoint must match to be resumed by a run of ``config``: the recipe, the data's image size and
    channels, the whole model section, the loss, the optimiser and whether an EMA is kept (the state's layout)."""
    return {"recipe": config.recipe, "image_size": config.data.image_size, "channels": config.data.channels,
            "model": dataclasses.asdict(config.model), "loss": config.loss.name, "optim": config.optim.name,
            "ema": config.train.ema > 0}


def _feed(hasher: Any, value: Any) -> None:
    """Feed ``value`` (tensors, numbers, strings, None and dicts / lists / tuples of them) to ``hasher``, unambiguously."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous().reshape(-1)
        hasher.update(f"T{tensor.dtype}{tuple(value.shape)}:".encode())
        hasher.update(tensor.view(torch.uint8).numpy())
    elif isinstance(value, dict):
        hasher.update(f"D{len(value)}:".encode())
        for key in sorted(value, key=repr):
            _feed(hasher, key)
            _feed(hasher, value[key])
    elif isinstance(value, (list, tuple)):
        hasher.update(f"{type(value).__name__}{len(value)}:".encode())
        for item in value:
            _feed(hasher, item)
    else:
        text = repr(value)
        hasher.update(f"{type(value).__name__}{len(text)}:{text}".encode())


def content_hash(state: dict[str, Any]) -> str:
    """SHA-256 of a checkpoint's content (every key but ``content_sha256``): a flipped bit changes it."""
    hasher = hashlib.sha256()
    _feed(hasher, {k: v for k, v in state.items() if k != HASH_KEY})
    return hasher.hexdigest()


def save_checkpoint(path: Path, state: dict[str, Any], identity: dict[str, Any] | None = None) -> None:
    """Write ``state`` atomically with its :func:`content_hash` and, if given, the run's :func:`checkpoint_identity`."""
    state = {**state, **({IDENTITY_KEY: identity} if identity is not None else {})}
    state[HASH_KEY] = content_hash(state)
    atomic_write_bytes(path, lambda handle: torch.save(state, handle))


_UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: GLOBAL (\S+)")


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def load_checkpoint(path: Path, map_location: torch.device | str = "cpu",
                    identity: dict[str, Any] | None = None) -> dict[str, Any]:
    """A checkpoint's state dict; GankitError naming the file if it is missing, damaged, unsafe or (when
    ``identity`` is given) written by a run of another recipe or architecture."""
    path = Path(path)
    try:
        data = read_bytes(path, MAX_WEIGHTS_BYTES)
    except FileNotFoundError:
        raise GankitError(f"checkpoint {str(path)!r} does not exist") from None
    except OSError as error:
        raise GankitError(f"cannot read checkpoint {str(path)!r}: {os_error_reason(error)}") from None
    if not data:
        raise GankitError(f"checkpoint {str(path)!r} is empty (0 bytes; its writing was interrupted)")
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickle protocols before refusing them
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        found = _UNSUPPORTED_GLOBAL.search(str(error))
        what = f"it asks for the Python object {found.group(1)}" if found else "it holds more than tensors, numbers and strings"
        raise GankitError(f"checkpoint {str(path)!r} refused: {what} (a checkpoint may hold only tensors, numbers and strings)") from None
    except Exception as error:  # damaged files surface as RuntimeError, EOFError, KeyError, IndexError... from torch
        raise GankitError(f"checkpoint {str(path)!r} is corrupt or truncated: {_first_line(error)}") from None
    _check_content(path, state, identity)
    return state


def _check_content(path: Path, state: Any, identity: dict[str, Any] | None) -> None:
    """Refuse a checkpoint whose hash, step or identity is not what it should be."""
    if not isinstance(state, dict) or HASH_KEY not in state:
        raise GankitError(f"checkpoint {str(path)!r} refused: it has no content hash (not written by this gankit)")
    if state[HASH_KEY] != content_hash(state):
        raise GankitError(f"checkpoint {str(path)!r} is damaged: its content does not match its SHA-256 "
                          "(a changed bit; resume from an earlier checkpoint or a backup)")
    named = _NAMED_STEP.fullmatch(path.name)
    step = state.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0 or (named and int(named.group(1)) != step):
        raise GankitError(f"checkpoint {str(path)!r} refused: it claims step {step!r}, not the step its name says")
    if identity is not None and state.get(IDENTITY_KEY) != identity:
        raise GankitError(f"checkpoint {str(path)!r} belongs to another run: {_difference(state.get(IDENTITY_KEY), identity)}")


def _difference(found: Any, expected: dict[str, Any]) -> str:
    """The first field where a checkpoint's identity differs from the run's, in words."""
    if not isinstance(found, dict):
        return "it records no recipe or architecture"
    flat_found, flat_expected = _flat(found), _flat(expected)
    for key in [*flat_expected, *(k for k in flat_found if k not in flat_expected)]:  # the recipe first
        if flat_found.get(key) != flat_expected.get(key):
            return f"its {key} is {flat_found.get(key)!r}, this run's is {flat_expected.get(key)!r}"
    return "its identity differs"


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(_flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return flat


def checkpoint_name(step: int) -> str:
    return f"step-{step:08d}.pt"


def step_of(path: Path) -> int:
    """300 for ``step-00000300.pt``."""
    return int(_NAMED_STEP.fullmatch(Path(path).name).group(1))


def step_checkpoints(directory: Path) -> list[Path]:
    """The ``step-XXXXXXXX.pt`` files in ``directory``, oldest first (other names are not checkpoints)."""
    return sorted(p for p in Path(directory).glob("step-*.pt") if _NAMED_STEP.fullmatch(p.name))


def prune_checkpoints(directory: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` step checkpoints."""
    checkpoints = step_checkpoints(directory)
    for old in checkpoints[:-keep] if keep > 0 else checkpoints:
        old.unlink(missing_ok=True)


def latest_checkpoint(directory: Path) -> Path | None:
    checkpoints = step_checkpoints(directory)
    return checkpoints[-1] if checkpoints else None
