"""Config files: YAML or JSON, read as untrusted input into flat dotted keys (``{"optim.lr_d": 1e-4}``).

:func:`gankit.config.apply_overrides` then type- and range-checks every key, as it does for ``--set``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gankit.config import flatten
from gankit.errors import GankitError

__all__ = ["MAX_CONFIG_FILE_BYTES", "load_config_file"]

MAX_CONFIG_FILE_BYTES = 2**20


class _StrictLoader(yaml.SafeLoader):
    """Safe loading (no Python objects), and stricter: a mapping may not repeat a key (not "the last one
    wins"), and anchors / aliases are refused (a config needs none; they allow self-reference and
    exponentially large documents)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent) or getattr(self.peek_event(), "anchor", None):
            raise yaml.YAMLError(f"anchors and aliases (&name, *name) are not allowed (line {self.peek_event().start_mark.line + 1})")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
            except TypeError:
                raise yaml.YAMLError(f"a key must be a plain value, not {type(key).__name__} (line {key_node.start_mark.line + 1})") from None
            if repeated:
                raise yaml.YAMLError(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON config file (UTF-8, at most 1 MiB; see :class:`_StrictLoader`) as flat dotted keys."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:  # a FIFO is fine here: `--config <(...)` is the user's own stream
            data = handle.read(MAX_CONFIG_FILE_BYTES + 1)
    except OSError as error:
        raise GankitError(f"cannot read config file {str(path)!r}: {error.strerror or error}") from None
    if len(data) > MAX_CONFIG_FILE_BYTES:
        raise GankitError(f"config file {str(path)!r} is larger than {MAX_CONFIG_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise GankitError(f"config file {str(path)!r} is not UTF-8 text (byte {error.start})") from None
    try:
        tree = yaml.load(text, Loader=_StrictLoader)  # JSON is YAML too
        flat = flatten(tree) if isinstance(tree, dict) else tree
    except yaml.YAMLError as error:
        raise GankitError(f"config file {str(path)!r} is not valid YAML/JSON: {str(error).splitlines()[0]}") from None
    except RecursionError:
        raise GankitError(f"config file {str(path)!r} is nested too deeply") from None
    if flat is None:
        return {}
    if not isinstance(flat, dict):
        raise GankitError(f"config file {str(path)!r} must hold a mapping of keys to values")
    return flat
