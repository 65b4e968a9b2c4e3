"""PacGAN's Tables 2 and 3 (Lin et al. 2018): mode coverage on Stacked MNIST.

Stacked MNIST: three MNIST digits as the channels of one 28 px image, 1000 modes; modes are counted by an
MNIST classifier on each channel of the samples (a mode is hit by >= 1 sample) and KL(mode histogram ||
uniform). gankit counts with its shipped MNIST classifier (99% test accuracy). Both settings as PacGAN's
code runs them (``stacked_MNIST_experiments``):

- Table 3, the Unrolled GAN setting (Metz et al. 2017): the small DCGAN of ``model.arch = "unrolled-dcgan"``
  with D at 1/4 (2-4-8 filters) or 1/2 (4-8-16) of G's size, z 256-d, non-saturating loss, Adam lr_D 2e-4,
  lr_G 1e-4, betas (0.5, 0.99), batches of 128 packs, no EMA, 500,000 steps; 25,600 samples scored.
- Table 2, the VEEGAN setting (Srivastava et al. 2017): DCGAN-tensorflow's net (``model.arch = "dcgan-tf"``,
  64 base filters, 5x5 kernels, z ~ U(-1, 1) 100-d), non-saturating loss, Adam 2e-4 beta1 0.5, batches of
  64 packs, two G updates per D update, no EMA, 50 epochs of 128,000 images (100,000 steps); 26,000 samples.

gankit's own recipes on Stacked MNIST (``dcgan``, and ``pacgan`` with DCGAN nets) are extra rows, and so is
gankit's best configuration, trained to its own CPU schedule.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gankit.reproductions import ReproductionContext, make_row, register_reproduction

PAPER = "Lin et al. 2018, PacGAN, Tables 2 and 3 (Stacked MNIST in the VEEGAN and the Unrolled GAN settings)"
CPU_STEPS, QUICK_STEPS = 2000, 4
CPU_TRIALS, QUICK_TRIALS = 3, 2
QUICK_SAMPLES = 256
NAME = {1: "DCGAN", 2: "PacDCGAN2", 3: "PacDCGAN3", 4: "PacDCGAN4"}


@dataclass(frozen=True)
class Setting:
    """One of the paper's tables: its nets and optimiser, batch (in packs), schedule and sample count."""

    table: str
    overrides: dict[str, Any]
    packs_per_batch: int
    paper_steps: int
    cpu_steps: int  # the default schedule here; 0 = trained only when --steps or --budget asks
    samples: int
    paper_trials: int
    # (row name, packing m, D width or None): the paper's (modes, KL)
    rows: dict[tuple[str, int, int | None], tuple[float, float]] = field(default_factory=dict)


UNROLLED = Setting(
    "Table 3",
    {"model.arch": "unrolled-dcgan", "model.z_dim": 256, "model.g_hidden": 8, "model.g_batchnorm": True,
     "model.d_batchnorm": True, "optim.name": "adam", "optim.lr_d": 2e-4, "optim.lr_g": 1e-4, "optim.beta1": 0.5,
     "optim.beta2": 0.99, "train.ema": 0.0},
    packs_per_batch=128, paper_steps=500_000, cpu_steps=CPU_STEPS, samples=25_600, paper_trials=50,
    rows={("D = 1/4 G", 1, 2): (30.6, 5.99), ("D = 1/4 G", 2, 2): (484.5, 2.61), ("D = 1/4 G", 4, 2): (667.4, 1.81),
          ("D = 1/2 G", 1, 4): (628.0, 2.58), ("D = 1/2 G", 2, 4): (840.7, 1.00)})
VEEGAN = Setting(
    "Table 2",
    {"model.arch": "dcgan-tf", "model.z_dim": 100, "model.g_hidden": 64, "model.d_hidden": 64, "optim.name": "adam",
     "optim.lr_d": 2e-4, "optim.lr_g": 2e-4, "optim.beta1": 0.5, "optim.beta2": 0.999, "train.g_steps": 2,
     "train.ema": 0.0},
    # No CPU default: a step costs ~180 GFLOP (see UNTRAINED_NOTE).
    packs_per_batch=64, paper_steps=100_000, cpu_steps=0, samples=26_000, paper_trials=10,
    rows={("VEEGAN setting", 1, None): (99.0, 3.40), ("VEEGAN setting", 2, None): (1000.0, 0.06)})
UNTRAINED_NOTE = ("A Table 2 step costs about 180 GFLOP (one update of D and two of a 4.5M-parameter G, batches of 64 "
                  "packs): 4.6 s on this machine's 2 CPU cores (shared with another run), so its 100,000 steps are a "
                  "GPU's job: `--budget F` or `--steps N` trains them.")
# gankit's recipes as they are (their own nets, batch, steps of the CPU budget): extra rows.
OWN = {"gankit dcgan recipe": ("dcgan", {}), "gankit pacgan recipe (DCGAN nets, m = 2)": ("pacgan", {})}
# gankit's best configuration on this table: a recipe, its overrides and its own CPU schedule (``cpu_steps``;
# ``--steps`` and ``--budget`` set it as they set the other rows').
BEST = {"label": "gankit best: PacDCGAN2 + linear lr decay", "recipe": "pacgan",
        "overrides": {"optim.lr_decay": "linear", "optim.decay_start": 0.5, "train.ema": 0.0}, "cpu_steps": 10_000}


@dataclass(frozen=True)
class Row:
    label: str
    recipe: str
    overrides: dict[str, Any]
    paper: tuple[float, float] | None  # the paper's (modes, KL); None for gankit's own rows
    cpu_steps: int
    setting: Setting = UNROLLED  # gankit's rows: scored and budgeted as Table 3

    def steps(self, ctx: ReproductionContext) -> int:
        """This row's schedule: --steps, --budget x its table's paper schedule, or its quick or CPU default."""
        return ctx.schedule(self.setting.paper_steps, self.cpu_steps, QUICK_STEPS)


def _plan(quick: bool) -> list[Row]:
    plan = []
    for setting in (UNROLLED, VEEGAN):
        for (name, pack, width), paper in setting.rows.items():
            overrides = {**setting.overrides, "model.pack": pack, "data.batch_size": setting.packs_per_batch * pack}
            if width is not None:
                overrides["model.d_hidden"] = width
            plan.append(Row(f"{name}, {NAME[pack]}", "pacgan", overrides, paper, setting.cpu_steps, setting))
    plan += [Row(label, recipe, overrides, None, CPU_STEPS) for label, (recipe, overrides) in OWN.items()]
    plan.append(Row(BEST["label"], BEST["recipe"], BEST["overrides"], None, BEST["cpu_steps"]))
    if quick:  # the machinery once per kind of row: a Table 3 row, a Table 2 row, gankit's best
        return [plan[0], plan[len(UNROLLED.rows)], plan[-1]]
    return plan


def _score(run: Path, samples: int) -> dict[str, Any]:
    from gankit.evaluation import evaluate_run

    metrics = evaluate_run(run, metrics=["modes"], n=samples, progress=False)["metrics"]
    return {"modes": metrics["modes"], "kl": metrics["reverse_kl"]}


def _train_seed(folder: Path, config: Any, steps: int, samples: int, progress: bool | None,
                partial: bool) -> list[dict[str, Any]]:
    """One seed of one row, trained in stages into ``folder`` (a worker process's job): its curve."""
    from gankit.reproductions._staged import train_in_stages

    return train_in_stages(folder, config, steps, functools.partial(_score, samples=samples), progress, partial=partial)


def _jobs(ctx: ReproductionContext, plan: list[Row], trials: int) -> tuple[list[tuple], list[tuple[Row, int, int]]]:
    """``_train_seed``'s first arguments (all but progress and partial) for every seed of every row with steps to
    train, and (row, seed, steps) of each."""
    from gankit.recipes import resolve_config

    jobs, owners = [], []
    for row in plan:
        steps = row.steps(ctx)
        samples = QUICK_SAMPLES if ctx.quick else row.setting.samples
        for seed in range(trials if steps else 0):
            extra = {"train.seed": seed, "train.log_every": max(1, min(100, steps)), "train.sample_every": steps}
            if ctx.quick:
                extra["data.batch_size"] = 8 * row.overrides.get("model.pack", 1)
            config = resolve_config(row.recipe, "stacked-mnist", "image", {**row.overrides, **extra})
            jobs.append((ctx.work_dir / f"{_slug(row.label)}-seed{seed}", config, steps, samples))
            owners.append((row, seed, steps))
    return jobs, owners


@register_reproduction("stacked-mnist", "PacGAN Tables 2 and 3: Stacked MNIST modes and KL (VEEGAN and Unrolled GAN settings)",
                       PAPER)
def run(ctx: ReproductionContext) -> dict[str, Any]:
    from gankit.training.workers import run_jobs

    trials = ctx.trial_count(CPU_TRIALS, QUICK_TRIALS)
    plan = _plan(ctx.quick)
    jobs, owners = _jobs(ctx, plan, trials)
    # The seeds are independent runs: one worker process per core trains them side by side (longest first), each
    # single-threaded; a bar per worker would interleave, so workers train without one.
    workers = 1 if ctx.partial else max(1, min(ctx.workers or 1, len(jobs)))
    progress = ctx.progress if workers == 1 else False
    order = sorted(range(len(jobs)), key=lambda i: -owners[i][2] * owners[i][0].overrides.get("model.pack", 1))
    trained = run_jobs(_train_seed, [(*job, progress, ctx.partial) for job in jobs], workers, order)
    curves = {f"{row.label} seed {seed}": curve for (row, seed, _), curve in zip(owners, trained) if curve}
    rows, missing = _table_rows(ctx, plan, trials, curves)
    if not curves:  # nothing scored yet (a --partial report of a run not started)
        return {"rows": []}
    _figure(ctx.out_dir / f"{ctx.name}.png", curves)
    untrained = sorted({row["setting"] for row in rows if not row["trials"]})
    notes = [f"Not trained at this budget: {', '.join(untrained)}. {UNTRAINED_NOTE}"] if untrained else []
    return {"protocol": _protocol(ctx, trials), "budget": _budget(ctx, trials), "rows": rows, "missing": missing,
            "curves": curves, "best_configuration": copy.deepcopy(BEST), "notes": notes}


def _table_rows(ctx: ReproductionContext, plan: list[Row], trials: int,
                curves: dict[str, list[dict[str, Any]]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Each row's mean ± s.e. over the seeds that reached its last stage, and the labels of rows short of seeds."""
    from gankit.sweep import mean_and_standard_error

    rows, missing = [], []
    for row in plan:
        steps = row.steps(ctx)
        finals = [curves[name][-1] for name in (f"{row.label} seed {seed}" for seed in range(trials if steps else 0))
                  if name in curves and curves[name][-1]["step"] == steps]
        if len(finals) < trials and steps:
            missing.append(row.label)
        for metric, index in (("modes", 0), ("kl", 1)) if finals or not steps else ():
            summary = mean_and_standard_error([point[metric] for point in finals])
            rows.append(make_row("stacked-mnist", row.label, metric, row.paper[index] if row.paper else None, None,
                                 summary["mean"], summary["se"] if summary["n"] > 1 else None, len(finals),
                                 table=row.setting.table if row.paper else "gankit", step=steps, planned_steps=steps))
    return rows, missing


def _protocol(ctx: ReproductionContext, trials: int) -> dict[str, str]:
    samples = {s.table: QUICK_SAMPLES if ctx.quick else s.samples for s in (UNROLLED, VEEGAN)}
    return {
        "data": "Stacked MNIST: 3 MNIST train digits drawn at random as the channels of one 28 px image (1000 modes)",
        "Table 3 rows": "unrolled-dcgan nets (G 256-d z, 64-32-16-8 filters; D 2-4-8 or 4-8-16 filters, BN, "
                        "LeakyReLU 0.3), non-saturating loss, Adam lr_D 2e-4 lr_G 1e-4 betas (0.5, 0.99), 128 packs per batch; "
                        f"{samples['Table 3']} samples scored",
        "Table 2 rows": "dcgan-tf nets (DCGAN-tensorflow at 28 px: G z ~ U(-1, 1) 100-d, FC 2x2x512 then 5x5 deconvs "
                        "256-128-64-3, BN; D 5x5 convs 64-128-256-512, BN but on the first, LeakyReLU 0.2), non-saturating "
                        "loss, Adam 2e-4 betas (0.5, 0.999), 64 packs per batch, 2 G updates per D update; "
                        f"{samples['Table 2']} samples scored",
        "gankit rows": "the dcgan and pacgan recipes' own image settings on stacked-mnist (EMA 0.999 of G's weights); "
                       f"gankit's best row: the {BEST['recipe']} recipe with "
                       + ", ".join(f"{k}={v}" for k, v in BEST["overrides"].items()) + f"; {samples['Table 3']} samples",
        "evaluation": "samples of the generator (no EMA on the paper rows), each channel classified by gankit's "
                      "MNIST classifier; modes hit by >= 1 sample; KL(histogram || uniform)",
        "trials": f"seeds 0..{trials - 1} per row, mean ± s.e. (the paper: 50 runs for Table 3, 10 for Table 2; "
                  "its s.e. are not transcribed here)",
    }


def _budget(ctx: ReproductionContext, trials: int) -> dict[str, Any]:
    steps = ctx.schedule(UNROLLED.paper_steps, CPU_STEPS, QUICK_STEPS)
    table2_steps = ctx.schedule(VEEGAN.paper_steps, VEEGAN.cpu_steps, QUICK_STEPS)
    return {"steps": steps, "paper_steps": UNROLLED.paper_steps, "fraction_of_paper": round(steps / UNROLLED.paper_steps, 5),
            "table2_steps": table2_steps, "table2_paper_steps": VEEGAN.paper_steps,
            "table2_fraction_of_paper": round(table2_steps / VEEGAN.paper_steps, 5),
            "trials": trials, "paper_trials": UNROLLED.paper_trials, "table2_paper_trials": VEEGAN.paper_trials,
            "best_steps": ctx.schedule(UNROLLED.paper_steps, BEST["cpu_steps"], QUICK_STEPS)}


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label.lower()).strip("-").replace("--", "-")


def _figure(path: Path, curves: dict[str, list[dict[str, Any]]]) -> None:
    """Modes hit and KL over training: one colour per row, one line per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys(name.rsplit(" seed ", 1)[0] for name in curves))
    colours = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, curve in curves.items():
        label = name.rsplit(" seed ", 1)[0]
        first = name.endswith(" seed 0")
        for ax, metric in zip(axes, ("modes", "kl")):
            ax.plot([p["step"] for p in curve], [p[metric] for p in curve], marker="o", ms=3, lw=1,
                    color=colours(labels.index(label) % 10), label=label if first else None)
    axes[0].set_ylabel("modes hit (of 1000)")
    axes[1].set_ylabel("KL(mode histogram || uniform)")
    for ax in axes:
        ax.set_xlabel("steps")
        ax.set_xscale("log")
    axes[1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.02, 0.5), title="row (a line per seed)",
                   title_fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
