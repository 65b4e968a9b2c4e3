"""What the report reads from a run directory: JSON and PNG bytes only, never a checkpoint or a pickle.

The directory may come from someone else and may be half-written (a run killed mid-line), so every
optional file is read defensively: what cannot be used is left out, with a line appended to ``notes``
that the page shows at its end. Only ``config.json`` is required, and a bad one is an error. A folder
holding a link, FIFO or device is refused as a whole, and every file is read without following links,
up to a size cap (:mod:`gankit.training.safe_files`): nothing outside the run reaches the shared page.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gankit.errors import GankitError
from gankit.training.safe_files import MAX_JSON_BYTES, MAX_LOG_BYTES, check_tree, read_bytes

MAX_SNAPSHOTS = 12  # sample grids shown; a long run's snapshots are thinned evenly, keeping first and last
MAX_IMAGE_BYTES = 8 * 1024 * 1024  # a snapshot larger than this is left out (the page must stay light)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _read_json_object(path: Path, notes: list[str]) -> dict[str, Any] | None:
    """An optional JSON file as a dict; a missing file is None, a damaged one None plus a note."""
    if not path.is_file():
        return None
    try:
        data = json.loads(read_bytes(path, MAX_JSON_BYTES).decode("utf-8"))
    except (OSError, ValueError, RecursionError, GankitError) as error:  # ValueError covers bad JSON and bad UTF-8
        notes.append(f"{path.name} could not be read ({error}); left out")
        return None
    if not isinstance(data, dict):
        notes.append(f"{path.name} does not hold a JSON object; left out")
        return None
    return data


def _read_jsonl(path: Path, notes: list[str]) -> list[dict[str, Any]]:
    """Records of a JSON-lines file; unreadable lines (a run killed mid-write) are skipped with a note."""
    if not path.is_file():
        return []
    records, bad = [], 0
    try:
        text = read_bytes(path, MAX_LOG_BYTES).decode("utf-8", errors="replace")
    except (OSError, GankitError) as error:
        notes.append(f"{path.name} could not be read ({error}); left out")
        return []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            bad += 1
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            bad += 1
    if bad:
        notes.append(f"{path.name}: {bad} unreadable line(s) skipped")
    return records


def _load_config(run_dir: Path) -> dict[str, Any]:
    """config.json as written by the run; its presence is what makes DIR a run directory."""
    if not run_dir.is_dir():
        raise GankitError(f"run directory {str(run_dir)!r} does not exist")
    check_tree(run_dir)
    path = run_dir / "config.json"
    if not path.is_file():
        raise GankitError(f"{str(run_dir)!r} is not a gankit run directory (no config.json)")
    try:
        config = json.loads(read_bytes(path, MAX_JSON_BYTES).decode("utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        raise GankitError(f"{str(path)!r} is not valid JSON: {error}") from None
    if not isinstance(config, dict):
        raise GankitError(f"{str(path)!r} does not hold a config (expected a JSON object)")
    return config


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def select_evenly(items: Sequence[Any], limit: int) -> list[Any]:
    """At most ``limit`` items spread evenly over ``items``, always keeping the first and the last."""
    if len(items) <= limit:
        return list(items)
    if limit <= 1:
        return list(items[-1:])
    indices = sorted({round(i * (len(items) - 1) / (limit - 1)) for i in range(limit)})
    return [items[i] for i in indices]


def _snapshot_step(path: Path) -> int | None:
    """``step-00000300.png`` -> 300; other names -> None."""
    stem = path.stem
    if stem.startswith("step-") and stem[5:].isdigit():
        return int(stem[5:])
    return None


def _snapshots(samples_dir: Path, notes: list[str]) -> list[tuple[str, bytes]]:
    """(caption, PNG bytes) of the snapshots shown: valid PNGs, thinned to MAX_SNAPSHOTS."""
    if not samples_dir.is_dir():
        return []
    paths = sorted(samples_dir.glob("*.png"), key=lambda p: (_snapshot_step(p) is None, _snapshot_step(p) or 0, p.name))
    if len(paths) > MAX_SNAPSHOTS:
        notes.append(f"{len(paths)} snapshots in samples/; {MAX_SNAPSHOTS} shown, evenly spaced")
    shown = []
    for path in select_evenly(paths, MAX_SNAPSHOTS):
        try:
            data = read_bytes(path, MAX_IMAGE_BYTES)
        except GankitError as error:
            too_large = "larger" in str(error)
            notes.append(f"samples/{path.name} is {f'larger than {MAX_IMAGE_BYTES // 2**20} MiB' if too_large else 'not a regular file'}; left out")
            continue
        except OSError as error:
            notes.append(f"samples/{path.name} could not be read ({error.strerror}); left out")
            continue
        if not _valid_png(data):
            notes.append(f"samples/{path.name} is not a readable PNG; left out")
            continue
        step = _snapshot_step(path)
        shown.append((f"step {step}" if step is not None else path.name, data))
    return shown


def _valid_png(data: bytes) -> bool:
    if not data.startswith(PNG_SIGNATURE):
        return False
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except Exception:  # PIL raises many types for damaged files; any of them means "leave it out"
        return False
    return True
