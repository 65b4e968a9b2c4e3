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

- :mod:`gankit.report.reading`: reading the run directory defensively (JSON files, snapshots), with
  notes on what was left out;
- :mod:`gankit.report.charts`: the training-curve, metric and evaluation-history charts;
- :mod:`gankit.report.markup`: escaping, value formatting, tables and embedded figures;
- :mod:`gankit.report.page`: the sections, :func:`render_report` and :func:`write_report`.
"""

from gankit.report.charts import (
    CURVE_GROUPS,
    MAX_METRIC_CHARTS,
    METRIC_TITLES,
    NOT_PLOTTED,
    curve_charts,
    eval_history_charts,
    metric_charts,
)
from gankit.report.markup import format_value
from gankit.report.page import CSS, REPORT_NAME, render_report, write_report
from gankit.report.reading import MAX_IMAGE_BYTES, MAX_SNAPSHOTS, PNG_SIGNATURE, select_evenly
from gankit.training.run_dir import EVAL_HISTORY_NAME

__all__ = [
    "render_report", "write_report", "REPORT_NAME", "EVAL_HISTORY_NAME", "MAX_SNAPSHOTS",
    "MAX_IMAGE_BYTES", "PNG_SIGNATURE", "select_evenly", "format_value", "curve_charts", "metric_charts",
    "eval_history_charts", "CURVE_GROUPS", "METRIC_TITLES", "NOT_PLOTTED", "MAX_METRIC_CHARTS", "CSS",
]
