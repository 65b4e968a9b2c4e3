"""The theory lab: every claim of the seeds as a reproducible experiment with a figure and numbers.

``run_experiment("js-vs-wasserstein", out_dir)`` writes ``out_dir/js-vs-wasserstein.png`` (the figure)
and ``out_dir/js-vs-wasserstein.json`` (every number plotted, the settings, and a ``verdict``) and
returns that JSON as a dict. ``quick=True`` shrinks every budget so a run takes well under a minute
(the test suite uses it); the full runs, under 10 minutes each on 2 CPU cores, make the figures of
``docs/experiments.md``.

Each experiment lives in its own module and registers itself with :func:`register_experiment`; the
function receives an :class:`ExperimentContext` and returns its numbers plus
``"verdict": {"claim", "holds", "checks", "text"}`` (built with :func:`make_verdict`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gankit.errors import GankitError
from gankit.registry import Registry
from gankit.training.workers import single_cpu_thread

__all__ = [
    "ExperimentContext",
    "register_experiment",
    "run_experiment",
    "experiment_names",
    "experiment_summary",
    "make_verdict",
    "cli_entry",
]

@dataclass(frozen=True)
class ExperimentContext:
    """What an experiment gets: where to write, how big to run, which seed and device."""

    name: str
    out_dir: Path
    quick: bool
    seed: int
    device: torch.device

    @property
    def figure_path(self) -> Path:
        return self.out_dir / f"{self.name}.png"

    def rng(self, offset: int = 0) -> torch.Generator:
        """A fresh generator on the device seeded ``seed + offset`` (one per independent random stream)."""
        return torch.Generator(device=self.device).manual_seed(self.seed + offset)

    def budget(self, quick: Any, full: Any) -> Any:
        """``quick`` in quick mode, else ``full``."""
        return quick if self.quick else full


@dataclass(frozen=True)
class _Experiment:
    name: str
    summary: str
    run: Callable[[ExperimentContext], dict[str, Any]]


# Each module registers its experiment when imported, which happens on first lookup; names keep this
# order (the order `--list` shows them).
_EXPERIMENTS: Registry[_Experiment] = Registry("experiment", ordered=True, modules=[
    "gankit.experiments.js_vs_wasserstein",
    "gankit.experiments.optimal_discriminator",
    "gankit.experiments.vanishing_gradients",
    "gankit.experiments.mode_collapse",
    "gankit.experiments.weight_clipping",
    "gankit.experiments.critic_tracks_quality",
    "gankit.experiments.instance_noise",
    "gankit.experiments.batchnorm_ablation",
])


def register_experiment(name: str, summary: str):
    """Decorator: ``@register_experiment("js-vs-wasserstein", "JS is log 2 ...")`` over ``run(ctx) -> dict``."""
    return _EXPERIMENTS.register(name, lambda run: _Experiment(name, summary, run))


def experiment_names() -> list[str]:
    """Every registered experiment, in the order of the issue (the order `--list` prints)."""
    return _EXPERIMENTS.names()


def experiment_summary(name: str) -> str:
    return _EXPERIMENTS.get(name).summary


def make_verdict(claim: str, checks: dict[str, bool], text: str) -> dict[str, Any]:
    """``{"claim", "holds", "checks", "text"}``: the claim holds when every named check does."""
    checks = {key: bool(value) for key, value in checks.items()}
    return {"claim": claim, "holds": all(checks.values()), "checks": checks, "text": text}


def json_safe(value: Any) -> Any:
    """``value`` with tensors/arrays as lists and non-finite floats as the strings "inf", "-inf", "nan".

    Strict JSON has no infinities (KL is +∞ for disjoint supports), and Python's ``Infinity`` extension
    breaks other readers, so they are spelt out as strings.
    """
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, torch.Tensor):
        return json_safe(value.detach().cpu().tolist())
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def run_experiment(name: str, out_dir: str | Path, quick: bool = False, seed: int = 0,
                   device: str | torch.device | None = None) -> dict[str, Any]:
    """Run experiment ``name``; write ``out_dir/NAME.png`` and ``out_dir/NAME.json``; return the JSON dict.

    The dict holds the experiment's own keys (see ``docs/experiments.md``), a ``verdict`` and the run's
    ``experiment``, ``summary``, ``quick``, ``seed``, ``device``, ``seconds`` (wall) and ``cpu_seconds``.
    """
    experiment = _EXPERIMENTS.get(name)
    if seed < 0:
        raise GankitError(f"experiment seed must be >= 0, got {seed}")
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise GankitError(f"cannot create output folder {str(out_dir)!r}: {error.strerror}") from None
    ctx = ExperimentContext(name, out_dir, quick, seed, torch.device(device) if device else _default_device())
    started, cpu_started = time.perf_counter(), time.process_time()
    with single_cpu_thread(ctx.device):
        results = experiment.run(ctx)
    if not ctx.figure_path.is_file():
        raise RuntimeError(f"experiment {name!r} did not write its figure {ctx.figure_path}")
    record = {
        "experiment": name,
        "summary": experiment.summary,
        "quick": quick,
        "seed": seed,
        "device": str(ctx.device),
        "seconds": round(time.perf_counter() - started, 2),
        # CPU time of this process: what the run costs on an otherwise idle machine (wall time grows with load)
        "cpu_seconds": round(time.process_time() - cpu_started, 2),
        **results,
    }
    record = json_safe(record)
    (out_dir / f"{name}.json").write_text(json.dumps(record, indent=1, allow_nan=False) + "\n")
    return record


def cli_entry(name: str | None, out: Path, quick: bool, list_only: bool) -> int:
    """``gankit experiment [NAME] [--out DIR] [--quick] [--list]``: run one experiment and print its verdict.

    Returns the exit code: 0 when the experiment ran (whether or not its claim held: the verdict line
    says which), 2 when no name was given. Unknown names raise :class:`GankitError`.
    """
    if list_only:
        names = experiment_names()
        width = max(len(n) for n in names)
        for experiment_name in names:
            print(f"{experiment_name.ljust(width)}  {experiment_summary(experiment_name)}")
        return 0
    if not name:
        print("gankit experiment: give an experiment NAME or --list")
        return 2
    record = run_experiment(name, out, quick=quick)
    verdict = record["verdict"]
    status = "HOLDS" if verdict["holds"] else "DOES NOT HOLD"
    failed = [k for k, ok in verdict["checks"].items() if not ok]
    print(f"{name}: claim {status}: {verdict['claim']}")
    print(f"  {verdict['text']}")
    if failed:
        print(f"  failed checks: {', '.join(failed)}")
    print(f"  wrote {Path(out) / (name + '.png')} and {Path(out) / (name + '.json')} ({record['seconds']:.0f}s"
          f"{', quick mode' if quick else ''})")
    return 0
