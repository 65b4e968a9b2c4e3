"""What several commands share: the fresh-output-folder check, the --no-progress flag, the text table."""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.errors import GankitError


def require_fresh_dir(out: Path, what: str, hint: str = "") -> None:
    """Refuse an output path that is a file, or a folder that already holds something."""
    if out.exists() and not out.is_dir():
        raise GankitError(f"{what} {str(out)!r} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        raise GankitError(f"{what} {str(out)!r} already exists and is not empty{hint}")


def add_no_progress(parser: argparse.ArgumentParser, help: str = "no progress bar") -> None:
    """``--no-progress``: ``args.progress`` is False with it, None (the command decides) without."""
    parser.add_argument("--no-progress", dest="progress", action="store_false", default=None, help=help)


def parse_workers(text: str) -> int | None:
    """A ``--workers`` value: a positive integer, or ``auto`` (None: the library's default, one per CPU core)."""
    if text == "auto":
        return None
    try:
        workers = int(text)
    except ValueError:
        workers = 0
    if workers < 1:
        raise GankitError(f"--workers expects a positive integer or 'auto', got {text!r}")
    return workers


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))


def print_catalogue(names: list[str], summary) -> None:
    """One line per name: the name, padded to the longest, then ``summary(name)`` (``--list`` of a registry)."""
    width = max(len(name) for name in names)
    for name in names:
        print(f"{name.ljust(width)}  {summary(name)}")
