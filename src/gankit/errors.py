"""The one exception type for a user's mistake (and its subclass for a training run stopped by a signal).

Anything the user can fix (an unknown recipe, a bad config value, a missing data file) raises
:class:`GankitError` with a one-line message naming the culprit. The CLI prints it and exits
with code 2; a traceback means a bug in gankit.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GankitError(Exception):
    """A problem with the user's input: printed as one line, exit code 2."""


class TrainingStopped(GankitError):
    """Training stopped on request (SIGINT/SIGTERM) after writing a checkpoint; the CLI exits 128 + signal."""

    def __init__(self, message: str, signal_name: str):
        super().__init__(message)
        self.signal_name = signal_name

    def __reduce__(self):  # a worker process sends it back pickled (gankit.training.workers)
        return type(self), (str(self), self.signal_name)


def did_you_mean(name: str, valid: Iterable[str]) -> str:
    """A suffix suggesting the closest valid names, or listing them all when none is close."""
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
    if close:
        return f" (did you mean {', '.join(repr(c) for c in close)}?)"
    return f" (valid: {', '.join(valid)})"


def unknown(kind: str, name: str, valid: Iterable[str]) -> GankitError:
    """``GankitError("unknown recipe 'wgan-pg' (did you mean 'wgan-gp'?)")``."""
    return GankitError(f"unknown {kind} {name!r}{did_you_mean(name, valid)}")
