"""``gankit report DIR``: one self-contained HTML page about a run, safe to share and to open.

The page holds the config, the training curves (G's and D's losses, the gradient penalty, learning
rates, throughput), the metrics logged over training (modes captured, % high quality...), the
evaluation (``eval.json``: metrics and protocol, plus ``eval-history.jsonl`` when present) and the
snapshots written during training (image grids, or for toy data the sample scatters over the
critic's surface). Charts are PNGs drawn with matplotlib; every image is embedded as a base64
``data:`` URI, the CSS is inline and there is no script, so the file opens offline and can be mailed.

A run directory may come from someone else, so the report only *reads* JSON and PNG bytes (it never
loads a checkpoint or any pickle), HTML-escapes every string it shows, and declares a
Content-Security-Policy that forbids scripts and every network request.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gankit.errors import GankitError
from gankit.training.checkpoint import atomic_write_bytes

REPORT_NAME = "report.html"
EVAL_HISTORY_NAME = "eval-history.jsonl"  # optional: one ``gankit eval`` result per line, with "step"
MAX_SNAPSHOTS = 12  # sample grids shown; a long run's snapshots are thinned evenly, keeping first and last
MAX_IMAGE_BYTES = 8 * 1024 * 1024  # a snapshot larger than this is left out (the page must stay light)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

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

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d232a;
       margin: 0; background: #f5f6f8; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.25em; margin: 32px 0 10px; border-bottom: 2px solid #d9dde3; padding-bottom: 4px; }
h3 { font-size: 1.05em; margin: 18px 0 6px; }
.sub { color: #5a6472; margin: 0 0 12px; }
nav a { margin-right: 14px; color: #2457a6; text-decoration: none; }
table { border-collapse: collapse; background: #fff; margin: 6px 0 12px; font-size: 0.92em; }
th, td { text-align: left; padding: 4px 12px; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
th { background: #eef1f5; }
td { font-variant-numeric: tabular-nums; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 14px; }
.wide { grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); }
figure { margin: 0; background: #fff; border: 1px solid #e0e3e8; border-radius: 6px; padding: 8px; }
figure img { width: 100%; height: auto; display: block; image-rendering: auto; }
figcaption { color: #5a6472; font-size: 0.88em; margin-top: 4px; text-align: center; }
.summary { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
.stat { background: #fff; border: 1px solid #e0e3e8; border-radius: 6px; padding: 8px 14px; min-width: 110px; }
.stat b { display: block; font-size: 1.2em; }
.stat span { color: #5a6472; font-size: 0.85em; }
.note { background: #fff7e0; border: 1px solid #f0d58a; border-radius: 6px; padding: 8px 12px; }
.config { display: flex; flex-wrap: wrap; gap: 0 24px; }
"""


# --- reading the run directory (JSON and PNG bytes only) -----------------------------------------


def _read_json_object(path: Path, notes: list[str]) -> dict[str, Any] | None:
    """An optional JSON file as a dict; a missing file is None, a damaged one None plus a note."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:  # ValueError covers bad JSON and bad UTF-8
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
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
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
    path = run_dir / "config.json"
    if not path.is_file():
        raise GankitError(f"{str(run_dir)!r} is not a gankit run directory (no config.json)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        raise GankitError(f"{str(path)!r} is not valid JSON: {error}") from None
    if not isinstance(config, dict):
        raise GankitError(f"{str(path)!r} does not hold a config (expected a JSON object)")
    return config


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


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


# --- turning values into escaped HTML -------------------------------------------------------------


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def format_value(value: Any) -> str:
    """A config or metric value as short text (floats to 4 significant digits), not yet escaped."""
    if isinstance(value, bool) or value is None:
        return str(value).lower() if isinstance(value, bool) else "—"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _table(rows: Sequence[tuple[Any, Any]], header: tuple[str, str] = ("key", "value")) -> str:
    body = "".join(
        f"<tr><td>{_esc(k)}</td><td>{_esc(format_value(v))}</td></tr>"
        for k, v in rows
    )
    return f"<table><tr><th>{_esc(header[0])}</th><th>{_esc(header[1])}</th></tr>{body}</table>"


def _data_uri_png(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _figure(png: bytes, alt: str, caption: str = "") -> str:
    """An embedded PNG; charts carry their title inside, so only snapshots get a caption."""
    below = f"<figcaption>{_esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{_data_uri_png(png)}" alt="{_esc(alt)}">{below}</figure>'



# --- charts ---------------------------------------------------------------------------------------


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


# --- snapshots ------------------------------------------------------------------------------------


def _snapshots(samples_dir: Path, notes: list[str]) -> list[tuple[str, bytes]]:
    """(caption, PNG bytes) of the snapshots shown: valid PNGs, thinned to MAX_SNAPSHOTS."""
    if not samples_dir.is_dir():
        return []
    paths = sorted(samples_dir.glob("*.png"), key=lambda p: (_snapshot_step(p) is None, _snapshot_step(p) or 0, p.name))
    if len(paths) > MAX_SNAPSHOTS:
        notes.append(f"{len(paths)} snapshots in samples/; {MAX_SNAPSHOTS} shown, evenly spaced")
    shown = []
    for path in select_evenly(paths, MAX_SNAPSHOTS):
        if path.stat().st_size > MAX_IMAGE_BYTES:
            notes.append(f"samples/{path.name} is larger than {MAX_IMAGE_BYTES // 2**20} MiB; left out")
            continue
        data = path.read_bytes()
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


# --- the page -------------------------------------------------------------------------------------


def _config_section(config: dict[str, Any]) -> str:
    """One table per config section (data, model, loss, optim, train), top-level keys first."""
    top = [(k, v) for k, v in config.items() if not isinstance(v, dict)]
    parts = [f"<div><h3>run</h3>{_table(top)}</div>"] if top else []
    for section, values in config.items():
        if isinstance(values, dict):
            parts.append(f"<div><h3>{_esc(section)}</h3>{_table(list(_flatten(values).items()))}</div>")
    return f'<div class="config">{"".join(parts)}</div>'


def _chart_cards(charts: list[tuple[str, bytes]], when_empty: str, css_class: str) -> str:
    if not charts:
        return f'<p class="sub">{_esc(when_empty)}</p>'
    return f'<div class="{css_class}">' + "".join(_figure(png, title) for title, png in charts) + "</div>"


def _stat(value: Any, label: str) -> str:
    return f'<div class="stat"><b>{_esc(format_value(value))}</b><span>{_esc(label)}</span></div>'


def _summary(config: dict[str, Any], records: list[dict[str, Any]], evaluation: dict[str, Any] | None) -> str:
    train = config.get("train") if isinstance(config.get("train"), dict) else {}
    last = records[-1] if records else {}
    stats = [_stat(f"{last.get('step', 0)} / {train.get('steps', '?')}", "steps done")]
    for key, label in (("loss_d", "final D loss"), ("loss_g", "final G loss"), ("time", "seconds of training")):
        if key in last:
            stats.append(_stat(last[key], label))
    metrics = evaluation.get("metrics") if evaluation and isinstance(evaluation.get("metrics"), dict) else {}
    if _is_number(metrics.get("modes")) and _is_number(metrics.get("num_modes")):
        stats.append(_stat(f"{metrics['modes']} / {metrics['num_modes']}", "modes (eval)"))
    if _is_number(metrics.get("hq_fraction")):
        stats.append(_stat(f"{100 * metrics['hq_fraction']:.1f}%", "high quality (eval)"))
    if _is_number(metrics.get("w1")):
        stats.append(_stat(metrics["w1"], "W1 (eval)"))
    return f'<div class="summary">{"".join(stats)}</div>'


def _evaluation_section(evaluation: dict[str, Any] | None, history: list[dict[str, Any]], generator: dict[str, Any] | None) -> str:
    if evaluation is None and not history:
        return '<p class="sub">No evaluation yet: run <code>gankit eval DIR</code>, then the report again.</p>'
    parts = []
    if evaluation is not None:
        if generator:
            parts.append(f'<p class="sub">Generator of step {_esc(format_value(generator.get("step")))}'
                         f'{" (EMA weights)" if generator.get("ema") else ""}.</p>')
        metrics = evaluation.get("metrics") if isinstance(evaluation.get("metrics"), dict) else {}
        protocol = evaluation.get("protocol") if isinstance(evaluation.get("protocol"), dict) else {}
        parts.append(f"<h3>metrics</h3>{_table(list(metrics.items()), ('metric', 'value'))}")
        if protocol:
            parts.append(f"<h3>protocol</h3>{_table(list(protocol.items()), ('what', 'how'))}")
    charts = eval_history_charts(history)
    if charts:
        parts.append(f"<h3>history ({len(history)} evaluations)</h3>")
        parts.append(_chart_cards(charts, "", "cards"))
    return "".join(parts)


def render_report(run_dir: str | Path) -> str:
    """The report page of ``run_dir`` as an HTML string (nothing is written)."""
    run_dir = Path(run_dir)
    config = _load_config(run_dir)
    notes: list[str] = []
    meta = _read_json_object(run_dir / "run.json", notes) or {}
    generator = _read_json_object(run_dir / "generator.json", notes)
    evaluation = _read_json_object(run_dir / "eval.json", notes)
    history = _read_jsonl(run_dir / EVAL_HISTORY_NAME, notes)
    records = _read_jsonl(run_dir / "metrics.jsonl", notes)
    curves = curve_charts(records)
    metrics = metric_charts(records, notes)
    snapshots = _snapshots(run_dir / "samples", notes)

    recipe = config.get("recipe") or "run"
    data = config.get("data", {}).get("name", "?") if isinstance(config.get("data"), dict) else "?"
    shape = meta.get("data_shape")
    is_vector = isinstance(shape, list) and len(shape) == 1
    title = f"{recipe} on {data}"
    versions = ", ".join(f"{k.replace('_version', '')} {v}" for k, v in meta.items() if k.endswith("_version"))
    described = {k: v for k, v in meta.items() if not k.endswith("_version")}
    if is_vector:
        snapshot_help = ("Generated samples over the real data at each snapshot, from the same fixed latent vectors; "
                         "for 2-D data the background colour is the critic's value D(x), which the generator's "
                         "samples are pushed to climb.")
    else:
        snapshot_help = "Samples from the same fixed latent vectors at each snapshot."

    sections = [
        ("summary", "Summary", _summary(config, records, evaluation)
         + (_table(list(described.items()), ("run", "value")) if described else "")),
        ("curves", "Training curves", _chart_cards(curves, "metrics.jsonl has no records yet.", "cards wide")),
        ("metrics", "Metrics over training", _chart_cards(metrics, "No metrics logged at the snapshots.", "cards")),
        ("evaluation", "Evaluation", _evaluation_section(evaluation, history, generator)),
        ("samples", "Samples over training",
         (f'<p class="sub">{_esc(snapshot_help)}</p><div class="cards">'
          + "".join(_figure(png, f"samples at {caption}", caption) for caption, png in snapshots) + "</div>")
         if snapshots else '<p class="sub">No snapshots in samples/.</p>'),
        ("config", "Config", _config_section(config)),
    ]
    if notes:
        sections.append(("notes", "Notes", '<div class="note"><ul>' + "".join(f"<li>{_esc(n)}</li>" for n in notes) + "</ul></div>"))

    nav = "".join(f'<a href="#{key}">{_esc(name)}</a>' for key, name, _ in sections)
    body = "".join(f'<section id="{key}"><h2>{_esc(name)}</h2>{content}</section>' for key, name, content in sections)
    # The policy forbids scripts and every fetch: only inline styles and embedded (data:) images.
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>gankit report: {_esc(title)}</title><style>{CSS}</style></head>\n"
        f"<body><main><h1>gankit report: {_esc(title)}</h1>"
        f'<p class="sub">{_esc(run_dir.resolve().name)}{" · " + _esc(versions) if versions else ""}</p>'
        f"<nav>{nav}</nav>{body}</main></body></html>\n"
    )


def write_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` (atomically) and return its path."""
    run_dir = Path(run_dir)
    page = render_report(run_dir)
    path = run_dir / REPORT_NAME
    try:
        atomic_write_bytes(path, lambda handle: handle.write(page.encode("utf-8")))
    except OSError as error:
        raise GankitError(f"cannot write {str(path)!r}: {error.strerror}") from None
    return path


def cli_report(run_dir: str | Path) -> None:
    """``gankit report DIR``: write the report and print where it is."""
    print(f"wrote {write_report(run_dir)}")
