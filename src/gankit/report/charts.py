"""The report's charts: PNG bytes drawn with matplotlib (through :mod:`gankit.plots`, imported only
when a chart is drawn), from the records of ``metrics.jsonl`` and ``eval-history.jsonl``."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

from gankit.report.reading import _is_number

# Training-curve charts: title -> (keys plotted together, y label). A key absent from every record,
# or zero throughout (no penalty, no instance noise), draws no chart.
CURVE_GROUPS: dict[str, tuple[tuple[str, ...], str]] = {
    "Losses": (("loss_d", "loss_g"), "loss (mean over the interval)"),
    "Gradient penalty": (("penalty",), "λ·GP (mean over D's updates)"),
    "Learning rates": (("lr_g", "lr_d"), "learning rate"),
    "Instance noise": (("sigma",), "σ"),
    "Throughput": (("steps_per_s",), "generator steps / s"),
}
# Other logged numbers get one chart each, titled from here when known.
METRIC_TITLES = {
    "modes": "Modes captured (≥ 1 high-quality sample)",
    "hq_fraction": "High-quality fraction (within 3 std of a mode)",
}
NOT_PLOTTED = {"step", "time"}  # the x axis, and wall time (throughput already says it)
MAX_METRIC_CHARTS = 24  # a foreign metrics.jsonl with thousands of keys must not make thousands of charts


def _series(records: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of ``key`` over the records that log it with a finite value."""
    xs, ys = [], []
    for r in records:
        x, y = _finite(r.get("step")), _finite(r.get(key))
        if x is not None and y is not None:
            xs.append(x)
            ys.append(y)
    return xs, ys


def _finite(value: Any) -> float | None:
    """``value`` as a finite float, or None (not a number, NaN, ±inf, or an int too large for a float)."""
    if not _is_number(value):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _chart(series: dict[str, tuple[list[float], list[float]]], ylabel: str, title: str, xlabel: str = "generator step") -> bytes:
    """A line chart as PNG bytes (gankit.plots.line_plot, drawn into a temporary file)."""
    from gankit import plots  # matplotlib only when a report is drawn

    with tempfile.TemporaryDirectory(prefix="gankit-report-") as tmp:
        path = plots.line_plot(series, Path(tmp) / "chart.png", xlabel=xlabel, ylabel=ylabel, title=title)
        return path.read_bytes()


def curve_charts(records: list[dict[str, Any]]) -> list[tuple[str, bytes]]:
    """(title, PNG) per group of CURVE_GROUPS that has data (losses, penalty, learning rates...)."""
    charts: list[tuple[str, bytes]] = []
    for title, (keys, ylabel) in CURVE_GROUPS.items():
        series = {k: s for k in keys if (s := _series(records, k))[0]}
        if not series or all(v == 0 for _, ys in series.values() for v in ys):
            continue
        charts.append((title, _chart(series, ylabel, title)))
    return charts


def metric_charts(records: list[dict[str, Any]], notes: list[str]) -> list[tuple[str, bytes]]:
    """(title, PNG) for every other number the loop logs (modes, hq_fraction, ...), one chart each."""
    grouped = {k for keys, _ in CURVE_GROUPS.values() for k in keys}
    keys = sorted({k for r in records for k, v in r.items() if _is_number(v)} - grouped - NOT_PLOTTED)
    if len(keys) > MAX_METRIC_CHARTS:
        notes.append(f"metrics.jsonl logs {len(keys)} other numbers; the first {MAX_METRIC_CHARTS} are drawn")
    charts = []
    for key in keys[:MAX_METRIC_CHARTS]:
        series = _series(records, key)
        if series[0]:
            title = METRIC_TITLES.get(key, f"{key} over training")
            charts.append((title, _chart({key: series}, key, title)))
    return charts


def eval_history_charts(history: list[dict[str, Any]]) -> list[tuple[str, bytes]]:
    """One chart per metric of ``eval-history.jsonl``, against the step of each evaluation."""
    points = [{"step": h.get("step", i), **h.get("metrics", {})} for i, h in enumerate(history)
              if isinstance(h.get("metrics", {}), dict)]
    keys = sorted({k for p in points for k, v in p.items() if _is_number(v)} - NOT_PLOTTED)
    charts = []
    for key in keys[:MAX_METRIC_CHARTS]:
        series = _series(points, key)
        if series[0]:
            charts.append((f"eval: {key}", _chart({key: series}, key, f"eval {key} over training")))
    return charts
