"""Mode collapse on the toy mixtures (the seeds' Fig. 13-17; VEEGAN and PacGAN's protocol).

Every recipe of the lineage (GAN, NSGAN, LSGAN, WGAN, WGAN-GP) is trained with gankit's own training loop
(:func:`gankit.training.loop.train`, the recipes' paper defaults, the same MLPs) on the ring of 8 and
the grid of 25 Gaussians, for several seeds. The seeds of one recipe train together as one batched model
(:mod:`gankit.nets.ensemble`, as ``gankit sweep`` does): each member starts from the weights a lone run
with its seed would (``torch.manual_seed(seed)``) and gets exactly the gradients of its own loss; the
members share the run's data stream. Every ``log_every`` steps the loop checkpoints, and each member's
EMA generator is scored on the same 2000 latents: the VEEGAN/PacGAN statistics ``modes`` (modes with at
least one sample within 3σ of their mean) and ``hq_fraction`` (share of such high-quality samples). The
last of these is the final generator, scored again with the reverse KL over modes and the exact W1 to the
data (:func:`gankit.metrics.toy.toy_metrics`); ``summary`` gives mean ± standard error over seeds.

A collapsed generator covers few modes (or sits between them: low ``hq_fraction``).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gankit.data import build_dataset
from gankit.experiments import ExperimentContext, make_verdict, register_experiment
from gankit.experiments._common import new_figure, save_figure, to_numpy
from gankit.metrics.toy import mode_statistics, toy_metrics
from gankit.nets import build_networks, sample_latent
from gankit.nets.ensemble import EnsembleDiscriminator, EnsembleGenerator
from gankit.recipes import resolve_config
from gankit.sweep import mean_and_standard_error
from gankit.training.checkpoint import load_checkpoint
from gankit.training.loop import train
from gankit.training.workers import run_jobs

MODELS = ("gan", "nsgan", "lsgan", "wgan", "wgan-gp")
LABELS = {"gan": "GAN (minimax)", "nsgan": "NSGAN", "lsgan": "LSGAN", "wgan": "WGAN (clip)", "wgan-gp": "WGAN-GP"}
COLOURS = {"gan": "tab:red", "nsgan": "tab:orange", "lsgan": "tab:brown", "wgan": "tab:purple", "wgan-gp": "tab:green"}
FINAL_SAMPLES = 2000
# Relative cost of one generator step (5 critic steps for the WGANs, each with a double backward for the
# penalty): the pool starts the longest jobs first so that two workers finish together.
COST = {"gan": 1.0, "nsgan": 1.0, "lsgan": 1.0, "wgan": 3.5, "wgan-gp": 5.0}
# The full budget fits the 10 minutes on 2 CPU cores: 2 data sets x 5 recipes x 3 seeds x 1000 steps
# cost about 500 CPU-seconds (the WGANs' 5 critic steps per generator step are three quarters of it, and they are
# arithmetic-bound: stacking seeds saves launches, not FLOPs), i.e. about 4-5 minutes in two workers.
QUICK_SEEDS, QUICK_STEPS, QUICK_EVERY = 2, 100, 50
FULL_SEEDS, FULL_EVERY = 3, 100
FULL_STEPS = {model: 1000 for model in MODELS}  # the same for every recipe: modes are compared at equal steps
TRAINING = "the seeds of a recipe as one batched model (gankit.nets.ensemble), two worker processes on CPU"


def _members(config, seeds: list[int]) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(G, D) for ``seeds``: one seed's plain MLPs, or all seeds stacked into one batched model."""
    generators, critics = [], []
    for seed in seeds:
        torch.manual_seed(seed)  # the same initial weights as a lone run with this seed (and gankit sweep)
        g, d = build_networks(config.model, (2,), 0)
        generators.append(g)
        critics.append(d)
    if len(seeds) == 1:
        return generators[0], critics[0]
    return EnsembleGenerator(generators), EnsembleDiscriminator(critics)


def _per_member(G: torch.nn.Module, z: torch.Tensor, members: int) -> torch.Tensor:
    """Samples (members, n, 2) of every member on the same ``n`` latents ``z``."""
    with torch.no_grad():
        return G(z.repeat(members, 1)).reshape(members, z.shape[0], -1)


def _train_recipe(recipe: str, data: str, seeds: list[int], steps: int, every: int, w1_samples: int, device: str,
                  root: str, sample_seed: int) -> dict:
    """All ``seeds`` of ``recipe`` on ``data`` in one training run: per seed, the mode curve, final metrics, samples.

    Returns ``{"runs": [one dict per seed], "cpu_seconds": the job's CPU time}``. A plain module-level
    function of plain arguments, so a worker process can run it.
    """
    cpu_started = time.process_time()
    device = torch.device(device)
    if device.type == "cpu":
        torch.set_num_threads(1)  # see gankit.training.workers.single_cpu_thread
    config = resolve_config(recipe, data, "vector", {
        "train.steps": steps, "train.seed": seeds[0], "train.device": str(device), "train.log_every": every,
        "train.sample_every": steps, "train.checkpoint_every": every, "train.keep_checkpoints": steps // every + 1,
    })
    run_dir = Path(root) / f"{recipe}-{data}"
    result = train(config, run_dir, progress=False, networks=_members(config, seeds))
    dataset = build_dataset(data, device)
    z = sample_latent(FINAL_SAMPLES, config.model.z_dim, torch.Generator(device=device).manual_seed(sample_seed), device)
    probe = _members(config, seeds)[0].to(device).eval()
    curves = [{"modes": [], "hq_fraction": []} for _ in seeds]
    steps_logged = []
    for checkpoint in sorted((run_dir / "checkpoints").glob("step-*.pt")):
        state = load_checkpoint(checkpoint, map_location=device)
        probe.load_state_dict(state["ema"]["model"] if "ema" in state else state["G"])
        steps_logged.append(int(state["step"]))
        for curve, samples in zip(curves, _per_member(probe, z, len(seeds))):
            stats = mode_statistics(samples, dataset.modes, dataset.mode_std)
            curve["modes"].append(int(stats["modes"]))
            curve["hq_fraction"].append(float(stats["hq_fraction"]))
    final_samples = _per_member(result.sampler.eval(), z, len(seeds))
    outcomes = []
    for curve, samples in zip(curves, final_samples):
        final = toy_metrics(samples, dataset, w1_max_samples=w1_samples)
        outcomes.append({"steps": steps_logged, **curve, "final": {k: final[k] for k in ("modes", "hq_fraction", "reverse_kl", "w1")},
                         "samples": samples.cpu().numpy()})
    return {"runs": outcomes, "cpu_seconds": time.process_time() - cpu_started}


def _train_all(ctx: ExperimentContext, jobs: list[tuple], root: str) -> list[dict]:
    """Run every job; on CPU, two worker processes (one thread each) keep both cores busy.

    Tiny MLPs gain little from intra-op threads, but two independent runs side by side halve the wall
    time. Results do not depend on the schedule: every run is a function of its own seeds.
    """
    args = [(*job, str(ctx.device), root, ctx.seed + 1) for job in jobs]
    workers = min(2, os.cpu_count() or 1) if ctx.device.type == "cpu" and not ctx.quick else 1
    order = sorted(range(len(jobs)), key=lambda i: -COST[jobs[i][0]] * jobs[i][3])  # longest first
    return run_jobs(_train_recipe, args, workers, order)


def _figure(ctx: ExperimentContext, r: dict, samples: dict) -> None:
    datasets = list(r["datasets"])
    fig, axes = new_figure(len(MODELS) + 2, len(datasets), width=3.0, height=3.1)
    for row, data in enumerate(datasets):
        dataset = build_dataset(data, ctx.device)
        real = to_numpy(dataset.sample(1000, ctx.rng(3))[0])
        k = int(dataset.modes.shape[0])
        for col, model in enumerate(MODELS):
            ax = axes[row, col]
            fake = samples[data][model][:1000]
            fake = fake[np.isfinite(fake).all(axis=1)]
            ax.scatter(real[:, 0], real[:, 1], s=3, color="0.75", linewidths=0)
            ax.scatter(fake[:, 0], fake[:, 1], s=3, color=COLOURS[model], alpha=0.6, linewidths=0)
            span = 1.6 if data == "ring8" else 5.5
            ax.set(xlim=(-span, span), ylim=(-span, span), aspect="equal", xticks=[], yticks=[])
            final = r["datasets"][data][model]["final"]
            ax.set_title(f"{LABELS[model]}\n{final['modes'][0]}/{k} modes, {final['hq_fraction'][0]:.0%} HQ", fontsize="small")
            if col == 0:
                ax.set_ylabel(data, fontsize="large")
        for offset, key, ylabel in ((0, "modes", f"modes captured (of {k})"), (1, "hq_fraction", "high-quality fraction")):
            ax = axes[row, len(MODELS) + offset]
            for model in MODELS:
                m = r["datasets"][data][model]
                values = np.asarray(m[key], dtype=float)  # seeds × logged steps
                ax.plot(m["steps"], values.mean(axis=0), color=COLOURS[model], label=LABELS[model])
                ax.fill_between(m["steps"], values.min(axis=0), values.max(axis=0), color=COLOURS[model], alpha=0.15)
            ax.set(xlabel="generator step", ylabel=ylabel, title=f"{data}: mean (band: min-max) over seeds")
            ax.title.set_fontsize("small")
            ax.grid(alpha=0.3)
        axes[row, len(MODELS)].legend(fontsize="x-small")
    save_figure(fig, ctx.figure_path, title="Final samples (seed 0) and mode statistics over training")


@register_experiment("mode-collapse", "ring of 8 and grid of 25: modes captured and % high quality for GAN ... WGAN-GP")
def run(ctx: ExperimentContext) -> dict:
    datasets = ctx.budget(["ring8"], ["ring8", "grid25"])
    seeds = [ctx.seed + i for i in range(ctx.budget(QUICK_SEEDS, FULL_SEEDS))]
    steps = ctx.budget({m: QUICK_STEPS for m in MODELS}, FULL_STEPS)
    every = ctx.budget(QUICK_EVERY, FULL_EVERY)
    w1_samples = ctx.budget(250, 1000)  # exact OT on 1000 points takes ~1 s, once per seed and recipe
    r: dict = {"datasets": {}, "summary": {},
               "settings": {"seeds": seeds, "steps": steps, "log_every": every, "recipes": list(MODELS),
                            "final_samples": FINAL_SAMPLES, "w1_samples": w1_samples, "training": TRAINING,
                            "networks": "gankit vector defaults (MLP 128x3, z 8, batch 256, EMA 0.999)"}}
    jobs = [(model, data, seeds, steps[model], every, w1_samples) for data in datasets for model in MODELS]
    with tempfile.TemporaryDirectory(prefix="gankit-mode-collapse-") as root:
        outcomes = {(job[0], job[1]): done for job, done in zip(jobs, _train_all(ctx, jobs, root))}
    # The training runs' own CPU time: in worker processes it is not in the record's ``cpu_seconds``.
    r["job_cpu_seconds"] = {f"{model}/{data}": round(done["cpu_seconds"], 2) for (model, data), done in outcomes.items()}
    r["jobs_cpu_seconds"] = round(sum(done["cpu_seconds"] for done in outcomes.values()), 2)
    samples: dict = {}
    for data in datasets:
        r["datasets"][data], r["summary"][data], samples[data] = {}, {}, {}
        for model in MODELS:
            runs = outcomes[(model, data)]["runs"]
            samples[data][model] = runs[0]["samples"]
            final = {k: [run["final"][k] for run in runs] for k in runs[0]["final"]}
            r["datasets"][data][model] = {
                "seeds": seeds,
                "steps": runs[0]["steps"],
                "modes": [run["modes"] for run in runs],
                "hq_fraction": [run["hq_fraction"] for run in runs],
                "final": final,
            }
            r["summary"][data][model] = {k: mean_and_standard_error(v) for k, v in final.items()}
    mean_modes = {d: {m: float(np.mean(v["final"]["modes"])) for m, v in r["datasets"][d].items()} for d in datasets}
    r["mean_final_modes"] = mean_modes
    checks = {}
    for d in datasets:
        best = max(mean_modes[d].values())
        checks[f"{d}_wgan_gp_among_most_modes"] = mean_modes[d]["wgan-gp"] >= best - 0.5
        checks[f"{d}_wgan_gp_beats_minimax_gan"] = mean_modes[d]["wgan-gp"] > mean_modes[d]["gan"]
    text = "; ".join(f"{d}: " + ", ".join(f"{LABELS[m]} {v:.1f}" for m, v in mean_modes[d].items()) + " modes (mean over seeds)"
                     for d in datasets)
    if ctx.quick:
        text += " [quick mode: far too few steps for the claim; the full run decides it]"
    r["verdict"] = make_verdict("WGAN-GP captures more modes than the minimax GAN and as many as any recipe", checks, text)
    _figure(ctx, r, samples)
    return r
