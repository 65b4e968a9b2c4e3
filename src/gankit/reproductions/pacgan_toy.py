"""PacGAN's Table 1 (Lin, Khetan, Fanti & Oh 2018): GAN and PacGAN2-4 on the ring of 8 and the grid of 25.

The paper's protocol, read from its code (``synthetic_data_experiments`` of fjxmlzn/PacGAN):

- data: ring8 (8 Gaussians of std 0.01 on the unit circle) and grid25 (25 of std 0.05 on {-4..4}²);
- nets: ``model.arch = "pacgan-mlp"`` (G 4 x 400 ReLU with batch norm, D 3 maxout layers of 200 units
  x 5 pieces, weights N(0, 0.02²)), z ~ N(0, I) in 2-D; D sees packs of m samples (``model.pack``);
- non-saturating loss, Adam lr 1e-4 beta1 0.8, batches of 100 packs (``data.batch_size`` = 100·m
  samples), no EMA, constant learning rate; 400 epochs of 100,000 points = 400,000 steps;
- evaluation: 2,500 samples of the final generator; modes with >= 1 sample within 3 std, % of such
  "high-quality" samples, reverse KL of the mode histogram to uniform; 10 trials, mean ± s.e.

gankit trains every trial of a row at once as a seed ensemble (:mod:`gankit.sweep`), evaluates at a few
points of its schedule (the curves) and writes one row per (data, packing, metric). Differences that
remain: fresh data samples every step (the paper: a fixed set of 100,000), alternating D/G updates
(the paper's code computes both from the same parameters), and G's batch norm over all 100·m fakes of a
step (the paper normalises each of the m slots' 100 separately).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from gankit.reproductions import ReproductionContext, make_row, register_reproduction
from gankit.reproductions._staged import Curve, stages

PAPER = "Lin et al. 2018, PacGAN: The power of two samples in generative adversarial networks, Table 1"
PAPER_STEPS = 400_000  # 400 epochs x 1,000 batches of 100
PACKS = (1, 2, 3, 4)
SETTING = {1: "GAN", 2: "PacGAN2", 3: "PacGAN3", 4: "PacGAN4"}
METRICS = ("modes", "hq_fraction", "reverse_kl")
# Table 1: (modes, modes s.e., high-quality fraction, reverse KL); the paper gives s.e. for modes only.
TABLE = {
    "ring8": {1: (6.3, 0.5, 0.982, 0.45), 2: (7.9, 0.1, 0.956, 0.07), 3: (7.8, 0.1, 0.977, 0.10), 4: (7.8, 0.1, 0.959, 0.07)},
    "grid25": {1: (17.3, 0.8, 0.948, 0.70), 2: (23.8, 0.2, 0.913, 0.13), 3: (24.6, 0.2, 0.942, 0.06), 4: (24.8, 0.2, 0.936, 0.04)},
}
CPU_STEPS, QUICK_STEPS = 3000, 10
CPU_TRIALS, QUICK_TRIALS = 5, 2
BEST_TRIALS = 10  # the target is a mean over >= 10 trials
EVAL_SAMPLES = 2500

# gankit's best configuration on this table: a recipe, its overrides and its own CPU schedule (``cpu_steps``;
# ``--steps`` and ``--budget`` set it as they set the paper rows'). Scored like the paper's rows.
BEST = {"label": "gankit best: PacGAN2 + linear lr decay", "recipe": "pacgan",
        "overrides": {"optim.lr_decay": "linear", "optim.decay_start": 0.5}, "cpu_steps": 30_000}


def paper_overrides(pack: int) -> dict[str, Any]:
    """The paper's settings for packing ``pack`` (the ``pacgan`` recipe's vector defaults, with m = pack)."""
    return {"model.pack": pack, "data.batch_size": 100 * pack, "train.eval_samples": EVAL_SAMPLES}


def train_row(ctx: ReproductionContext, folder: Path, recipe: str, data: str, overrides: dict[str, Any],
              seeds: list[int], steps: int) -> list[dict[str, Any]]:
    """Train ``seeds`` of ``recipe`` on ``data`` to ``steps``, scoring at each stage; returns one summary per stage.

    Each stage's summary is kept in ``folder/curve.json``, so a stopped row continues with its next stage.
    """
    from gankit.sweep import resume_sweep, run_sweep

    _check_same_row(folder, overrides)
    curve = Curve(folder / "curve.json")
    for stage in stages(steps):
        if curve.has(stage) or ctx.partial:
            continue
        # optim.decay_steps: every stage follows the one schedule of ``steps`` (a learning-rate decay is not restarted).
        stage_overrides = {**overrides, "train.steps": stage, "optim.decay_steps": steps, "train.checkpoint_every": stage,
                           "train.sample_every": stage, "train.log_every": max(1, min(100, stage))}
        if (folder / "sweep.json").is_file():
            result = resume_sweep(folder, steps=stage, progress=ctx.progress)
        else:
            result = run_sweep(recipe, data, seeds, folder, stage_overrides, progress=ctx.progress,
                               workers=1 if ctx.quick else ctx.workers)
        curve.add({"step": stage, "seconds": result.seconds, "summary": result.summary,
                   "per_seed": [{k: row[k] for k in ("seed", *METRICS)} for row in result.per_seed]})
    return curve.up_to(steps)


def _check_same_row(folder: Path, overrides: dict[str, Any]) -> None:
    """Refuse to continue a row's sweep in ``folder`` that was planned with other settings (e.g. an older best row)."""
    from gankit.config import flatten
    from gankit.errors import GankitError
    from gankit.training.run_dir import read_json

    path = folder / "sweep.json"
    if not path.is_file():
        return
    plan = read_json(path)
    planned = flatten(plan.get("config", {})) if isinstance(plan, dict) and isinstance(plan.get("config"), dict) else {}
    differs = sorted(key for key, value in overrides.items() if key in planned and planned[key] != value)
    if differs or not planned:
        raise GankitError(f"{str(path)!r} was planned with other settings ({', '.join(differs) or 'no config'}): "
                          "move it away or reproduce into a new output folder")


def _slug(setting: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", setting.lower()).strip("-")


def _rows(data: str, setting: str, point: dict[str, Any], paper: tuple | None, trials: int,
          planned_steps: int) -> list[dict[str, Any]]:
    rows = []
    for index, metric in enumerate(METRICS):
        value = point["summary"][metric]
        paper_value = paper_err = None
        if paper is not None:
            paper_value = {"modes": paper[0], "hq_fraction": paper[2], "reverse_kl": paper[3]}[metric]
            paper_err = paper[1] if metric == "modes" else None
        rows.append(make_row(data, setting, metric, paper_value, paper_err, value["mean"], value["se"], trials,
                             step=point["step"], planned_steps=planned_steps))
    return rows


@register_reproduction("pacgan-toy", "PacGAN Table 1: GAN and PacGAN2-4 on ring8 and grid25 (modes, % HQ, reverse KL)", PAPER)
def run(ctx: ReproductionContext) -> dict[str, Any]:
    steps = ctx.schedule(PAPER_STEPS, CPU_STEPS, QUICK_STEPS)
    best_steps = ctx.schedule(PAPER_STEPS, BEST["cpu_steps"], QUICK_STEPS)
    trials = ctx.trial_count(CPU_TRIALS, QUICK_TRIALS)
    best_trials = ctx.trial_count(BEST_TRIALS, QUICK_TRIALS) if ctx.trials is None else max(ctx.trials, 2)
    datasets = ("ring8", "grid25")
    packs = (1, 2) if ctx.quick else PACKS
    quick_overrides = {"train.eval_samples": 200} if ctx.quick else {}
    rows, curves, samples, missing = [], {}, {}, []
    plan = [(data, SETTING[pack], "pacgan", paper_overrides(pack), trials, TABLE[data][pack], steps)
            for data in datasets for pack in packs]
    # gankit's best rows last, after every paper row.
    plan += [(data, BEST["label"], BEST["recipe"], {**paper_overrides(2), **BEST["overrides"]}, best_trials, None,
              best_steps) for data in datasets]
    for data, setting, recipe, overrides, count, paper, row_steps in plan:
        folder = ctx.work_dir / f"{data}-{_slug(setting)}"
        curve = train_row(ctx, folder, recipe, data, {**overrides, **quick_overrides}, list(range(count)), row_steps)
        if not curve:  # a partial report of a row not yet scored
            missing.append(f"{data}/{setting}")
            continue
        curves[f"{data}/{setting}"] = curve
        samples[f"{data}/{setting}"] = folder / "seed-0"
        rows += _rows(data, setting, curve[-1], paper, count, row_steps)
    if not rows:
        return {"rows": []}
    _figure(ctx.out_dir / f"{ctx.name}.png", curves, samples)
    return {
        "protocol": {
            "data": "ring8 (8 modes, std 0.01, radius 1) and grid25 (25 modes, std 0.05, {-4..4}^2), fresh samples each step",
            "nets": "G 4x400 ReLU + batch norm, D 3 maxout layers 200x5, N(0, 0.02) init, z 2-d N(0, I)",
            "training": "non-saturating loss, Adam 1e-4 beta1 0.8, batch 100 packs of m, no EMA, alternating D/G updates; "
                        f"gankit's best row: {BEST['label'].split(': ')[1]} ({_describe(BEST['overrides'])}), "
                        f"{best_steps} steps",
            "evaluation": f"{EVAL_SAMPLES if not ctx.quick else 200} samples of the final generator (seed 0); HQ = within 3 std "
                          "of the nearest mode; a mode is captured by >= 1 HQ sample; reverse KL of the HQ histogram to uniform",
            "trials": f"seeds 0..{trials - 1} per paper row, 0..{best_trials - 1} for gankit's best; mean ± s.e.",
        },
        "budget": {"steps": steps, "paper_steps": PAPER_STEPS, "fraction_of_paper": round(steps / PAPER_STEPS, 4),
                   "trials": trials, "paper_trials": 10, "scored_at": stages(steps), "best_steps": best_steps},
        "rows": rows,
        "missing": missing,
        "curves": curves,
        "best_configuration": copy.deepcopy(BEST),
    }


def _describe(overrides: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in overrides.items())


def _figure(path: Path, curves: dict[str, list[dict[str, Any]]], samples: dict[str, Path]) -> None:
    """Top: seed 0's samples per row; bottom: modes and % HQ over training per row (mean ± s.e.)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gankit.generation import load

    names = list(samples)
    fig, axes = plt.subplots(2, len(names), figsize=(2.2 * len(names), 4.6), squeeze=False)
    for column, name in enumerate(names):
        points = load(samples[name], device="cpu").generate(EVAL_SAMPLES, seed=0).cpu().numpy()
        ax = axes[0, column]
        ax.scatter(points[:, 0], points[:, 1], s=1, alpha=0.4)
        limit = 1.6 if name.startswith("ring8") else 5.5
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
        ax.set_title(name.replace("/", "\n"), fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
        ax = axes[1, column]
        steps = [p["step"] for p in curves[name]]
        for metric, colour in (("modes", "C0"), ("hq_fraction", "C1")):
            scale = 1.0 if metric == "modes" else (25.0 if name.startswith("grid25") else 8.0)
            means = [p["summary"][metric]["mean"] * scale for p in curves[name]]
            errors = [(p["summary"][metric]["se"] or 0.0) * scale for p in curves[name]]
            ax.errorbar(steps, means, yerr=errors, color=colour, marker="o", ms=3,
                        label="modes" if metric == "modes" else "HQ x K")
        ax.set_xlabel("steps", fontsize=7)
        ax.tick_params(labelsize=6)
        if column == 0:
            ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
