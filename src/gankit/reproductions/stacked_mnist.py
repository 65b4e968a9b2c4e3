"""PacGAN's Table 3 (Lin et al. 2018): Stacked MNIST with a discriminator too small for its generator.

The Unrolled GAN setting (Metz et al. 2017) as PacGAN's code runs it: Stacked MNIST (three MNIST digits
as the channels of one 28 px image: 1000 modes), the small DCGAN of ``model.arch = "unrolled-dcgan"``
with D at 1/4 (2-4-8 filters) or 1/2 (4-8-16) of G's size, z 256-d, non-saturating loss, Adam lr_D 2e-4,
lr_G 1e-4, betas (0.5, 0.99), batches of 128 packs, no EMA, 500,000 steps; modes counted by an MNIST
classifier on each channel of 25,600 samples (a mode is hit by >= 1 sample) and KL(mode histogram ||
uniform). gankit counts with its shipped MNIST classifier (99% test accuracy).

gankit's own recipes on Stacked MNIST (``dcgan``, and ``pacgan`` with DCGAN nets) are extra rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gankit.reproductions import ReproductionContext, make_row, register_reproduction

PAPER = "Lin et al. 2018, PacGAN, Table 3 (Stacked MNIST in the Unrolled GAN setting, D = 1/4 G and 1/2 G)"
PAPER_STEPS = 500_000
SAMPLES = 25_600
CPU_STEPS, QUICK_STEPS = 2000, 4
CPU_TRIALS, QUICK_TRIALS = 3, 2
# (setting, D width d, packing m): (modes, KL) of Table 3.
TABLE = {
    ("D = 1/4 G", 2, 1): (30.6, 5.99), ("D = 1/4 G", 2, 2): (484.5, 2.61), ("D = 1/4 G", 2, 4): (667.4, 1.81),
    ("D = 1/2 G", 4, 1): (628.0, 2.58), ("D = 1/2 G", 4, 2): (840.7, 1.00),
}
NAME = {1: "DCGAN", 2: "PacDCGAN2", 3: "PacDCGAN3", 4: "PacDCGAN4"}
PAPER_NETS = {"model.arch": "unrolled-dcgan", "model.z_dim": 256, "model.g_hidden": 8, "model.g_batchnorm": True,
              "model.d_batchnorm": True, "optim.name": "adam", "optim.lr_d": 2e-4, "optim.lr_g": 1e-4,
              "optim.beta1": 0.5, "optim.beta2": 0.99, "train.ema": 0.0}
# gankit's recipes as they are (their own nets, batch, steps of the CPU budget): extra rows.
OWN = {"gankit dcgan recipe": ("dcgan", {}), "gankit pacgan recipe (DCGAN nets, m = 2)": ("pacgan", {})}


def _score(run: Path, quick: bool) -> dict[str, Any]:
    from gankit.evaluation import evaluate_run

    metrics = evaluate_run(run, metrics=["modes"], n=256 if quick else SAMPLES, progress=False)["metrics"]
    return {"modes": metrics["modes"], "kl": metrics["reverse_kl"]}


def _plan(quick: bool) -> list[tuple[str, str, dict[str, Any], tuple[float, float] | None]]:
    plan = []
    for (setting, width, pack), paper in TABLE.items():
        if quick and pack > 2:
            continue
        overrides = {**PAPER_NETS, "model.d_hidden": width, "model.pack": pack, "data.batch_size": 128 * pack}
        plan.append((f"{setting}, {NAME[pack]}", "pacgan", overrides, paper))
    plan += [(label, recipe, overrides, None) for label, (recipe, overrides) in OWN.items()]
    return plan[:2] if quick else plan


@register_reproduction("stacked-mnist", "PacGAN Table 3: Stacked MNIST modes and KL with D = 1/4 and 1/2 of G", PAPER)
def run(ctx: ReproductionContext) -> dict[str, Any]:
    from gankit.recipes import resolve_config
    from gankit.reproductions._staged import train_in_stages
    from gankit.sweep import mean_and_standard_error

    steps = ctx.schedule(PAPER_STEPS, CPU_STEPS, QUICK_STEPS)
    trials = ctx.trial_count(CPU_TRIALS, QUICK_TRIALS)
    rows, curves, missing = [], {}, []
    for label, recipe, overrides, paper in _plan(ctx.quick):
        finals = []
        for seed in range(trials):
            extra = {"train.seed": seed, "train.log_every": max(1, min(100, steps)), "train.sample_every": steps}
            if ctx.quick:
                extra["data.batch_size"] = 8 * overrides.get("model.pack", 1)
            config = resolve_config(recipe, "stacked-mnist", "image", {**overrides, **extra})
            folder = ctx.work_dir / f"{_slug(label)}-seed{seed}"
            curve = train_in_stages(folder, config, steps, lambda run: _score(run, ctx.quick), ctx.progress,
                                    partial=ctx.partial)
            if curve:
                curves[f"{label} seed {seed}"] = curve
            if curve and curve[-1]["step"] == steps:
                finals.append(curve[-1])
        if len(finals) < trials:
            missing.append(label)
        if not finals:
            continue
        for metric, index in (("modes", 0), ("kl", 1)):
            summary = mean_and_standard_error([point[metric] for point in finals])
            rows.append(make_row("stacked-mnist", label, metric, paper[index] if paper else None, None, summary["mean"],
                                 summary["se"] if summary["n"] > 1 else None, len(finals), step=steps))
    if not rows:
        return {"rows": []}
    _figure(ctx.out_dir / f"{ctx.name}.png", curves)
    return {
        "protocol": {
            "data": "Stacked MNIST: 3 MNIST train digits drawn at random as the channels of one 28 px image (1000 modes)",
            "paper rows": "unrolled-dcgan nets (G 256-d z, 64-32-16-8 filters; D 2-4-8 or 4-8-16 filters, BN, "
                          "LeakyReLU 0.3), non-saturating loss, Adam lr_D 2e-4 lr_G 1e-4 betas (0.5, 0.99), 128 packs per batch",
            "gankit rows": "the dcgan and pacgan recipes' own image settings on stacked-mnist",
            "evaluation": f"{SAMPLES if not ctx.quick else 256} samples of the final generator (no EMA on the paper rows), each "
                          "channel classified by gankit's MNIST classifier; modes hit by >= 1 sample; KL(histogram || uniform)",
            "trials": f"seeds 0..{trials - 1} per row, mean ± s.e. (the paper: 50 runs; its s.e. are not transcribed here)",
        },
        "budget": {"steps": steps, "paper_steps": PAPER_STEPS, "fraction_of_paper": round(steps / PAPER_STEPS, 5),
                   "trials": trials, "paper_trials": 50},
        "rows": rows,
        "missing": missing,
        "curves": curves,
        "notes": ["Table 2 (the VEEGAN setting: DCGAN 99 modes, KL 3.40; PacDCGAN2 1000, 0.06) is not reproduced yet."],
    }


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label.lower()).strip("-").replace("--", "-")


def _figure(path: Path, curves: dict[str, list[dict[str, Any]]]) -> None:
    """Modes hit over training, one line per row and seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    for name, curve in curves.items():
        ax.plot([p["step"] for p in curve], [p["modes"] for p in curve], marker="o", ms=3, label=name)
    ax.set_xlabel("steps")
    ax.set_ylabel("modes hit (of 1000)")
    ax.legend(fontsize=5, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
