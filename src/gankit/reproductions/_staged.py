"""Training in stages with a score after each: the curve over training, and a resumable reproduction.

A stopped reproduction continues where it stopped: each stage's scores are written to ``curve.json``
beside the run as soon as they exist, and a run continues from its last checkpoint.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gankit.config import Config


def stages(steps: int) -> list[int]:
    """Where a row is scored: a quarter, half and all of its steps."""
    return sorted({max(1, steps // 4), max(1, steps // 2), steps})


class Curve:
    """The scores of one row at each stage, kept in ``path`` (a JSON list of ``{"step", ...}``)."""

    def __init__(self, path: Path):
        self.path = path
        self.points: list[dict[str, Any]] = json.loads(path.read_text()) if path.is_file() else []

    def has(self, step: int) -> bool:
        return any(point["step"] == step for point in self.points)

    def add(self, point: dict[str, Any]) -> None:
        from gankit.training.run_dir import finite_or_none, write_json

        self.points.append(point)
        self.points.sort(key=lambda p: p["step"])
        write_json(self.path, finite_or_none(self.points))

    def up_to(self, steps: int) -> list[dict[str, Any]]:
        return [point for point in self.points if point["step"] <= steps]


def train_in_stages(folder: Path, config: Config, steps: int, score: Callable[[Path], dict[str, Any]],
                    progress: bool | None = None, partial: bool = False) -> list[dict[str, Any]]:
    """Train ``config`` into ``folder/run`` to ``steps``, scoring the run with ``score(run_dir)`` at each stage.

    Returns the curve ``[{"step", "seconds", **scores}, ...]``; a stage already scored is not redone, and
    with ``partial`` nothing is trained (the curve so far).
    """
    from gankit.training.checkpoint import latest_checkpoint
    from gankit.training.loop import train
    from gankit.training.run_dir import RunDir

    curve = Curve(folder / "curve.json")
    run = RunDir(folder / "run")
    for stage in stages(steps):
        if curve.has(stage) or partial:
            continue
        staged = copy.deepcopy(config)
        staged.train.steps = stage
        staged.optim.decay_steps = config.optim.decay_steps or steps  # one learning-rate schedule over all stages
        staged.train.checkpoint_every = stage
        resume = latest_checkpoint(run.checkpoints) is not None
        if resume:
            run.save_config(staged)  # a longer schedule for the same run
        result = train(staged, run.path, resume=resume, progress=progress)
        curve.add({"step": stage, "seconds": round(result.seconds, 1), **score(run.path)})
    return curve.up_to(steps)
