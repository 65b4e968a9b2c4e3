"""Checkpoints that survive a crash and load without executing code.

A checkpoint is one ``torch.save`` of tensors, numbers and strings, written atomically (temporary
file, fsync, rename): a run killed mid-write leaves the previous checkpoint intact. Loading uses
``torch.load(weights_only=True)``, which refuses arbitrary Python objects, so a crafted file
cannot run code.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from gankit.errors import GankitError


TEMPORARY_INFIX = ".tmp-"  # ``.NAME.tmp-PID``: a file being written; left behind only by a killed process


def temporary_path(path: Path) -> Path:
    """Where :func:`atomic_write_bytes` writes ``path`` before renaming it into place."""
    path = Path(path)
    return path.with_name(f".{path.name}{TEMPORARY_INFIX}{os.getpid()}")


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Delete the half-written ``.NAME.tmp-PID`` files a killed run left in ``directory``; return them."""
    stale = sorted(p for p in Path(directory).glob(f".*{TEMPORARY_INFIX}*") if p.is_file() or p.is_symlink())
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def os_error_reason(error: OSError) -> str:
    """``"No space left on device"`` for ENOSPC, however the error was raised (``OSError(errno.ENOSPC)`` has no strerror)."""
    if error.strerror:
        return error.strerror
    code = error.errno
    if code is None and len(error.args) == 1 and isinstance(error.args[0], int):
        code = error.args[0]
    if code is not None:
        return os.strerror(code) if code in errno.errorcode else f"error {code}"
    return str(error) or type(error).__name__


def atomic_write_bytes(path: Path, write) -> None:
    """Call ``write(fileobj)`` on a temporary file next to ``path``, fsync it, then rename over ``path``."""
    path = Path(path)
    tmp = temporary_path(path)
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # never hide the error that matters (ENOSPC, ...)
            tmp.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    atomic_write_bytes(path, lambda handle: torch.save(state, handle))


_UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: GLOBAL (\S+)")


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def load_checkpoint(path: Path, map_location: torch.device | str = "cpu") -> dict[str, Any]:
    """A checkpoint's state dict; GankitError naming the file if it is missing, damaged or unsafe."""
    path = Path(path)
    if not path.is_file():
        raise GankitError(f"checkpoint {str(path)!r} does not exist")
    if path.stat().st_size == 0:
        raise GankitError(f"checkpoint {str(path)!r} is empty (0 bytes; its writing was interrupted)")
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickle protocols before refusing them
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        found = _UNSUPPORTED_GLOBAL.search(str(error))
        what = f"it asks for the Python object {found.group(1)}" if found else "it holds more than tensors, numbers and strings"
        raise GankitError(f"checkpoint {str(path)!r} refused: {what} (a checkpoint may hold only tensors, numbers and strings)") from None
    except Exception as error:  # damaged files surface as RuntimeError, EOFError, KeyError, IndexError... from torch
        raise GankitError(f"checkpoint {str(path)!r} is corrupt or truncated: {_first_line(error)}") from None


def checkpoint_name(step: int) -> str:
    return f"step-{step:08d}.pt"


def prune_checkpoints(directory: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` step checkpoints."""
    checkpoints = sorted(Path(directory).glob("step-*.pt"))
    for old in checkpoints[:-keep] if keep > 0 else checkpoints:
        old.unlink(missing_ok=True)


def latest_checkpoint(directory: Path) -> Path | None:
    checkpoints = sorted(Path(directory).glob("step-*.pt"))
    return checkpoints[-1] if checkpoints else None
