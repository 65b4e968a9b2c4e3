"""Papers' own tables, reproduced under the papers' protocols, side by side with gankit's numbers.

``run_reproduction("pacgan-toy", out)`` trains and scores what the paper's table reports and writes
``out/pacgan-toy.json``::

    {"reproduction", "paper", "quick", "protocol": {...}, "budget": {...},
     "rows": [{"dataset", "setting", "metric", "paper", "paper_err", "gankit", "gankit_err", "trials"}, ...],
     "curves": {...}, "seconds", "train_seconds"}  (this call's wall time; training summed over runs)

plus ``out/pacgan-toy.md`` (the table) and ``out/pacgan-toy.png`` (samples, and each metric over
training, so a reader sees whether more steps would change the verdict). The work (run directories,
sweeps) goes to ``out/pacgan-toy/``; a stopped reproduction continues where it stopped when run again
with the same ``out``. ``docs/reproductions.md`` is rendered from committed full runs by
:func:`render_document`.

Each reproduction is a module of this package registering ``run(ctx) -> dict`` with
:func:`register_reproduction`; the dict holds ``protocol``, ``budget``, ``rows`` and ``curves``.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gankit.errors import GankitError
from gankit.registry import Registry
from gankit.training.workers import default_workers, single_cpu_thread

__all__ = ["ReproductionContext", "register_reproduction", "run_reproduction", "reproduction_names",
           "reproduction_summary", "make_row", "markdown_table", "render_document", "verdict"]


@dataclass(frozen=True)
class ReproductionContext:
    """What a reproduction gets: where to work, and how much of the paper's schedule to run.

    ``trials``/``steps`` are the user's overrides (None: the reproduction's CPU defaults); ``budget`` is a
    fraction of the paper's own schedule (1.0 = the paper's full training, for a GPU), exclusive with ``steps``.
    ``partial``: write the table of what an unfinished run has scored so far (each row at its last stage).
    """

    name: str
    out_dir: Path
    quick: bool
    trials: int | None
    steps: int | None
    budget: float | None
    workers: int | None
    progress: bool | None
    partial: bool = False  # report the stages already scored, train nothing

    @property
    def work_dir(self) -> Path:
        return self.out_dir / self.name

    def schedule(self, paper_steps: int, cpu_steps: int, quick_steps: int) -> int:
        """The number of steps to train: --steps, else --budget x the paper's, else the quick or CPU default."""
        if self.steps is not None:
            return self.steps
        if self.budget is not None:
            return max(1, round(self.budget * paper_steps))
        return quick_steps if self.quick else cpu_steps

    def trial_count(self, cpu_trials: int, quick_trials: int) -> int:
        return self.trials if self.trials is not None else (quick_trials if self.quick else cpu_trials)


@dataclass(frozen=True)
class _Reproduction:
    name: str
    summary: str
    paper: str
    run: Callable[[ReproductionContext], dict[str, Any]]


_REPRODUCTIONS: Registry[_Reproduction] = Registry("reproduction", ordered=True, modules=[
    "gankit.reproductions.pacgan_toy",
    "gankit.reproductions.stacked_mnist",
    "gankit.reproductions.mnist_fid",
])


def register_reproduction(name: str, summary: str, paper: str):
    """Decorator over ``run(ctx) -> {"protocol", "budget", "rows", "curves"}``."""
    return _REPRODUCTIONS.register(name, lambda run: _Reproduction(name, summary, paper, run))


def reproduction_names() -> list[str]:
    return _REPRODUCTIONS.names()


def reproduction_summary(name: str) -> str:
    return _REPRODUCTIONS.get(name).summary


def make_row(dataset: str, setting: str, metric: str, paper: float | None, paper_err: float | None,
             gankit: float | None, gankit_err: float | None, trials: int, **extra: Any) -> dict[str, Any]:
    """One row of a reproduced table: the paper's value beside gankit's (mean and standard error over trials)."""
    return {"dataset": dataset, "setting": setting, "metric": metric, "paper": paper, "paper_err": paper_err,
            "gankit": gankit, "gankit_err": gankit_err, "trials": trials, **extra}


# Which way is better, per metric; rows of other metrics get no better/worse word.
HIGHER_IS_BETTER = {"modes": True, "hq_fraction": True, "reverse_kl": False, "kl": False, "fid": False}


def verdict(row: dict[str, Any]) -> str:
    """How gankit's value stands to the paper's.

    "agrees" when |gankit − paper| ≤ 2·sqrt(paper_err² + gankit_err²) (missing errors count as 0), else
    how far it is above or below, and whether that is better or worse for the metric.
    """
    paper, ours = row.get("paper"), row.get("gankit")
    if paper is None:
        return "gankit's own row (no paper value)"
    if not row.get("trials"):
        return "not trained at this budget (see the notes)"
    if ours is None or not math.isfinite(ours):
        return "undefined in every trial (e.g. KL with no high-quality sample)"
    tolerance = 2 * math.hypot(row.get("paper_err") or 0.0, row.get("gankit_err") or 0.0)
    gap = ours - paper
    if abs(gap) <= tolerance:
        return "agrees (within 2 s.e.)"
    side = "above" if gap > 0 else "below"
    higher = HIGHER_IS_BETTER.get(row["metric"])
    quality = "" if higher is None else (", better" if (gap > 0) == higher else ", worse")
    size = f"{100 * abs(gap):.1f} points" if row["metric"] == "hq_fraction" else _number(abs(gap), row["metric"])
    return f"{side} the paper by {size}{quality}"


def _number(value: float | None, metric: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if metric == "hq_fraction":
        return f"{100 * value:.1f}%"
    return f"{value:.2f}" if abs(value) < 100 else f"{value:.1f}"


def _with_error(value: float | None, error: float | None, metric: str) -> str:
    text = _number(value, metric)
    if error is not None and value is not None and math.isfinite(error):
        text += f" ± {_number(error, metric)}"
    return text


def markdown_table(record: dict[str, Any]) -> str:
    """The rows of a reproduction as a markdown table: paper beside gankit, with trials and a verdict."""
    lines = ["| data | setting | metric | paper | gankit | trials | steps | verdict |", "|---|---|---|---|---|---|---|---|"]
    for row in record["rows"]:
        lines.append(f"| {row['dataset']} | {row['setting']} | {row['metric']} | "
                     f"{_with_error(row['paper'], row['paper_err'], row['metric'])} | "
                     f"{_with_error(row['gankit'], row['gankit_err'], row['metric'])} | {row['trials']} | "
                     f"{row.get('step', '–')} | {verdict(row)} |")
    return "\n".join(lines) + "\n"


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run_reproduction(name: str, out_dir: str | Path, quick: bool = False, trials: int | None = None,
                     steps: int | None = None, budget: float | None = None, workers: int | None = None,
                     progress: bool | None = None, partial: bool = False) -> dict[str, Any]:
    """Run reproduction ``name`` into ``out_dir``; write NAME.json, NAME.md and NAME.png there; return the record.

    ``partial``: train nothing; tabulate the stages already scored in ``out_dir/NAME`` (``"complete": false``
    when a row is missing or short of its last stage).
    """
    reproduction = _REPRODUCTIONS.get(name)
    if steps is not None and budget is not None:
        raise GankitError("give either a number of steps or a budget (a fraction of the paper's schedule), not both")
    if steps is not None and steps < 1:
        raise GankitError(f"steps must be at least 1, got {steps}")
    if budget is not None and not 0 < budget <= 1:
        raise GankitError(f"budget must be in (0, 1] (a fraction of the paper's schedule), got {budget}")
    if trials is not None and trials < 2:
        raise GankitError(f"trials must be at least 2 (a standard error needs two), got {trials}")
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise GankitError(f"cannot create output folder {str(out_dir)!r}: {error.strerror}") from None
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if workers is None:  # one worker process per core (decided before this process drops to one thread)
        workers = default_workers(device, os.cpu_count() or 1)
    ctx = ReproductionContext(name, out_dir, quick, trials, steps, budget, workers, progress, partial)
    started = time.perf_counter()
    with single_cpu_thread(device):  # toy nets in one process: threads cost more than they give (workers set their own)
        results = reproduction.run(ctx)
    if not results["rows"]:
        raise GankitError(f"{str(ctx.work_dir)!r} holds no scored stage of {name!r} yet: nothing to report")
    complete = not results.get("missing") and all(
        row.get("step") == row.get("planned_steps", results["budget"]["steps"]) for row in results["rows"])
    record = _json_safe({"reproduction": name, "paper": reproduction.paper, "quick": quick, "complete": complete,
                         **results, "seconds": round(time.perf_counter() - started, 1),
                         "train_seconds": round(_training_seconds(results.get("curves", {})), 1)})
    (out_dir / f"{name}.json").write_text(json.dumps(record, indent=1, allow_nan=False) + "\n")
    (out_dir / f"{name}.md").write_text(markdown_table(record))
    return record


def _training_seconds(curves: dict[str, list[dict[str, Any]]]) -> float:
    """Training time summed over every run's stages (a resumed reproduction's own wall time counts only the resume)."""
    return sum(point.get("seconds", 0.0) for curve in curves.values() for point in curve)


def render_document(records: list[dict[str, Any]], sources: list[str], intro: str = "",
                    figures: list[str | None] | None = None) -> str:
    """``docs/reproductions.md``: per reproduction its paper, protocol, budget, the table with verdicts and a figure."""
    parts = [intro.rstrip() + "\n"] if intro else []
    for index, (record, source) in enumerate(zip(records, sources)):
        parts.append(f"## {record['reproduction']}: {record['paper']}\n")
        state = "" if record.get("complete", True) else (
            " **Incomplete**: a partial report of a run still under way (rows missing or short of the budget's "
            f"last stage: {', '.join(record.get('missing') or []) or 'see each row'}).")
        parts.append(f"Raw results: `{source}`" + (" (**quick run: not a reproduction**)" if record.get("quick") else "")
                     + f"; {record.get('train_seconds', record['seconds']) / 60:.0f} min of training, summed over "
                     f"its runs.{state}\n")
        parts.append("**Protocol.** " + "; ".join(f"{k}: {v}" for k, v in record["protocol"].items()) + ".\n")
        parts.append("**Budget.** " + "; ".join(f"{k}: {v}" for k, v in record["budget"].items()) + ".\n")
        parts.append(markdown_table(record))
        if figures and figures[index]:
            parts.append(f"![{record['reproduction']}: samples and the metrics over training]({figures[index]})\n")
        for note in record.get("notes", []):
            parts.append(f"- {note}")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"
