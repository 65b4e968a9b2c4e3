"""Whether a state holds inf or NaN: checked before every checkpoint and before sampling a saved generator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor


def non_finite_entry(state: Any, prefix: str = "") -> str | None:
    """The name of the first floating tensor in ``state`` (nested dicts/lists) holding inf or NaN, else None.

    One host sync for the whole state: every tensor's ``isfinite().all()`` is stacked and reduced once;
    the names are searched only when that finds something."""
    named = list(_floating_tensors(state, prefix))
    if not named:
        return None
    finite = torch.stack([torch.isfinite(t).all().to(named[0][1].device) for _, t in named])
    if bool(finite.all()):
        return None
    return next(name for (name, _), ok in zip(named, finite.tolist()) if not ok)


def _floating_tensors(state: Any, prefix: str) -> Iterator[tuple[str, Tensor]]:
    if isinstance(state, Tensor):
        if state.is_floating_point():
            yield prefix, state
    elif isinstance(state, dict):
        for key, value in state.items():
            yield from _floating_tensors(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(state, (list, tuple)):
        for i, value in enumerate(state):
            yield from _floating_tensors(value, f"{prefix}[{i}]")
