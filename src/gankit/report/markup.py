"""The report's HTML building blocks: every string shown goes through :func:`_esc` (HTML-escaped,
quotes included), every image is embedded as a base64 ``data:`` URI."""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Sequence
from typing import Any


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


def _chart_cards(charts: list[tuple[str, bytes]], when_empty: str, css_class: str) -> str:
    if not charts:
        return f'<p class="sub">{_esc(when_empty)}</p>'
    return f'<div class="{css_class}">' + "".join(_figure(png, title) for title, png in charts) + "</div>"


def _stat(value: Any, label: str) -> str:
    return f'<div class="stat"><b>{_esc(format_value(value))}</b><span>{_esc(label)}</span></div>'
