"""The report page: its sections (summary, training curves, metrics, evaluation, samples, config, notes),
:func:`render_report` that assembles them into one HTML string, and :func:`write_report` that writes it.

The page declares a Content-Security-Policy that forbids scripts and every network request; the CSS
is inline and every image an embedded ``data:`` URI, so the file opens offline and can be mailed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gankit.errors import GankitError
from gankit.report.charts import curve_charts, eval_history_charts, metric_charts
from gankit.report.markup import _chart_cards, _esc, _figure, _stat, _table, format_value
from gankit.report.reading import (
    _is_number,
    _load_config,
    _read_json_object,
    _read_jsonl,
    _snapshots,
)
from gankit.training.checkpoint import atomic_write_bytes
from gankit.training.run_dir import EVAL_HISTORY_NAME

REPORT_NAME = "report.html"

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


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _config_section(config: dict[str, Any]) -> str:
    """One table per config section (data, model, loss, optim, train), top-level keys first."""
    top = [(k, v) for k, v in config.items() if not isinstance(v, dict)]
    parts = [f"<div><h3>run</h3>{_table(top)}</div>"] if top else []
    for section, values in config.items():
        if isinstance(values, dict):
            parts.append(f"<div><h3>{_esc(section)}</h3>{_table(list(_flatten(values).items()))}</div>")
    return f'<div class="config">{"".join(parts)}</div>'


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
