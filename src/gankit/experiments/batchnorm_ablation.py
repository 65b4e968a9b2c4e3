"""DCGAN without batch norm: the standard GAN loss against WGAN-GP (Arjovsky et al. 2017, "Wasserstein GAN",
Fig. 6-7; Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Fig. 2).

The seeds' claim: batch norm is what keeps a DCGAN trained with the standard GAN loss stable; take it
out of G and D and the GAN degrades or fails, while the same BN-free nets still train under WGAN-GP.
Three runs on MNIST, each from the recipe's own loss, optimiser, learning rates and n_critic:

- ``nsgan-no-bn``: recipe ``dcgan`` (non-saturating loss, Adam 2e-4, beta1 0.5) with
  ``model.g_batchnorm=false``, ``model.d_batchnorm=false``;
- ``wgan-gp-no-bn``: recipe ``wgan-gp`` (λ = 10, Adam 1e-4 (0.5, 0.9), n_critic = 5), arch ``dcgan``,
  the same BN-free nets (same initial weights as ``nsgan-no-bn``);
- ``nsgan-bn``: recipe ``dcgan`` as published, batch norm in G and D (the reference).

Every ``log_every`` generator steps the generator (eval mode) draws the same fixed latents and we
record a *domain FID*: the Fréchet distance between the penultimate-layer features of gankit's MNIST
classifier (:func:`gankit.metrics.features.get_feature_net` ``"mnist"``) for those samples and for
real MNIST test images (:func:`gankit.metrics.stats_cache.real_features`). The x-axis is generator
steps, as in the papers: WGAN-GP does 5 critic updates per generator step, so it costs about 5x the
compute per step. The loop is written out (it mirrors :func:`gankit.training.loop.train`, like
``critic-tracks-quality``) so that it can read G at each logged step; no EMA, constant learning rates.
The full run trains the three settings in two worker processes on a CPU with two or more cores (WGAN-GP
in one, both GAN runs in the other): each run is seeded on its own, so the numbers are those of a
serial run. ``--quick`` and GPU runs are serial.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

import torch

from gankit.data import build_dataset
from gankit.experiments import ExperimentContext, make_verdict, register_experiment
from gankit.experiments._common import model_seed, new_figure, save_figure
from gankit.grids import make_grid
from gankit.losses import get_loss
from gankit.metrics.features import extract_features, get_feature_net
from gankit.metrics.frechet import fid_from_features
from gankit.metrics.stats_cache import real_features
from gankit.nets import build_networks, sample_latent
from gankit.recipes import resolve_config
from gankit.training.harness import make_optimizer
from gankit.training.loop import GanStep

DATA, FEATURES, REAL_SPLIT = "mnist", "mnist", "test"
NO_BN = {"model.g_batchnorm": False, "model.d_batchnorm": False}
SETTINGS = {  # name: (recipe, overrides, label)
    "nsgan-no-bn": ("dcgan", NO_BN, "no BN, non-saturating GAN"),
    "wgan-gp-no-bn": ("wgan-gp", {"model.arch": "dcgan", **NO_BN}, "no BN, WGAN-GP"),
    "nsgan-bn": ("dcgan", {}, "with BN, non-saturating GAN (reference)"),
}
COLOURS = {"nsgan-no-bn": "tab:red", "wgan-gp-no-bn": "tab:blue", "nsgan-bn": "0.4"}
GRID = 64  # samples in each final grid
TRAINS = 0.75  # "still trains": the final FID at most this fraction of the step-0 FID


def _config(setting: str, width: int, batch: int):
    recipe, overrides, _ = SETTINGS[setting]
    return resolve_config(recipe, DATA, "image", {**overrides, "model.g_hidden": width, "model.d_hidden": width,
                                                  "data.batch_size": batch})


def _fid(G, z_eval: torch.Tensor, net, real: torch.Tensor, chunk: int = 500) -> tuple[float, torch.Tensor]:
    """Domain FID of G's samples for the fixed latents ``z_eval`` (G in eval mode); also the first GRID samples."""
    G.eval()
    try:
        with torch.no_grad():
            images = torch.cat([G(z_eval[i:i + chunk]) for i in range(0, z_eval.shape[0], chunk)])
    finally:
        G.train()
    features = extract_features(net, images, progress=False)
    return fid_from_features(features, real), images[:GRID]


def _train(ctx: ExperimentContext, setting: str, data, net, real: torch.Tensor, steps: int, every: int,
           width: int, batch: int, n_fake: int) -> dict:
    config = _config(setting, width, batch)
    model_seed(ctx.seed, 0)  # the same offset for every setting: both BN-free runs start from the same weights
    G, D = (n.to(ctx.device) for n in build_networks(config.model, data.shape))
    loss = get_loss(config.loss.name)
    opt_g = make_optimizer(config.optim, G.parameters(), config.optim.lr_g)
    opt_d = make_optimizer(config.optim, D.parameters(), config.optim.lr_d)
    # The GAN loop's own step, driven one update at a time (batch = data.batch_size)
    step_box = GanStep.plain(config, data, ctx.rng(20), G, D, opt_g, opt_d, loss)
    penalty = {"penalty": torch.zeros((), device=ctx.device)}  # the step's running total of the penalty (unused)
    z_eval = sample_latent(n_fake, G.z_dim, ctx.rng(30), ctx.device)  # the same latents at every step and setting
    out: dict = {"steps": [], "fid": [], "loss_d": [], "loss_g": []}
    totals = torch.zeros(2, device=ctx.device)
    started, cpu_started = time.perf_counter(), time.process_time()
    for step in range(steps + 1):
        if step % every == 0 or step == steps:
            fid, samples = _fid(G, z_eval, net, real)
            averaged = (totals / max(step - (out["steps"][-1] if out["steps"] else 0), 1)).tolist()
            totals.zero_()
            out["steps"].append(step)
            out["fid"].append(fid)
            out["loss_d"].append(averaged[0] if step else None)
            out["loss_g"].append(averaged[1] if step else None)
        if step == steps:
            break
        for _ in range(config.train.n_critic):
            loss_d = step_box.critic_update(0.0, penalty)
        loss_g = step_box.generator_update(0.0, penalty)
        totals += torch.stack([loss_d.detach(), loss_g.detach()])
    out["fid_final"] = out["fid"][-1]
    out["seconds"] = round(time.perf_counter() - started, 1)
    out["cpu_seconds"] = round(time.process_time() - cpu_started, 1)
    out["samples"] = samples  # the final grid, for the figure only (popped before the JSON)
    out["settings"] = {"recipe": config.recipe, "loss": config.loss.name, "gp_weight": config.loss.gp_weight,
                       "n_critic": config.train.n_critic, "optimizer": config.optim.name, "lr_g": config.optim.lr_g,
                       "lr_d": config.optim.lr_d, "betas": [config.optim.beta1, config.optim.beta2],
                       "g_batchnorm": config.model.g_batchnorm, "d_batchnorm": config.model.d_batchnorm}
    return out


def _figure(ctx: ExperimentContext, r: dict, grids: dict) -> None:
    fig, axes = new_figure(1 + len(SETTINGS), width=4.0, height=3.8)
    ax = axes[0, 0]
    for setting, (_, _, label) in SETTINGS.items():
        ax.plot(r["steps"], r["fid"][setting], "o-", ms=3, color=COLOURS[setting], label=label)
    ax.set(xlabel="generator step", ylabel=f"domain FID ({FEATURES} classifier features, log)", yscale="log",
           title="(a) FID to MNIST test images over training")
    ax.title.set_fontsize("small")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="x-small")
    for col, (setting, (_, _, label)) in enumerate(SETTINGS.items(), start=1):
        ax = axes[0, col]
        grid = make_grid(grids[setting].cpu(), nrow=8)
        ax.imshow(grid[..., 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(f"({'abcd'[col]}) {label}\nstep {r['steps'][-1]}, FID {r['fid_final'][setting]:.3g}", fontsize="small")
    save_figure(fig, ctx.figure_path, title="DCGAN without batch norm on MNIST: non-saturating GAN vs WGAN-GP")


def _worker(ctx: ExperimentContext, setting: str, n_real: int, *args) -> dict:
    """One setting in a worker process: its own data, feature net and (cached) real features, one thread."""
    torch.set_num_threads(1)
    net = get_feature_net(FEATURES, ctx.device)
    real = real_features(DATA, REAL_SPLIT, n_real, net, seed=0, progress=False)
    return _train(ctx, setting, build_dataset(DATA, ctx.device), net, real, *args)


def _workers(ctx: ExperimentContext) -> int:
    """Worker processes for the full run: 2 on a CPU with at least 2 cores, else 0 (serial)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 2 if ctx.device.type == "cpu" and not ctx.quick and cores >= 2 else 0


@register_experiment("batchnorm-ablation", "DCGAN without batch norm on MNIST: the standard GAN loss degrades, WGAN-GP still trains (domain FID)")
def run(ctx: ExperimentContext) -> dict:
    steps, every = ctx.budget(60, 1500), ctx.budget(20, 150)
    width, batch = ctx.budget(8, 16), 32
    n_fake, n_real = ctx.budget(256, 1000), ctx.budget(500, 2000)
    net = get_feature_net(FEATURES, ctx.device)
    real = real_features(DATA, REAL_SPLIT, n_real, net, seed=0, progress=False)  # cached here, read by the workers
    args = (steps, every, width, batch, n_fake)
    workers = _workers(ctx)
    if workers:  # WGAN-GP (5 critic updates per step) first: it alone takes about as long as both GAN runs
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {s: pool.submit(_worker, ctx, s, n_real, *args) for s in ("wgan-gp-no-bn", "nsgan-no-bn", "nsgan-bn")}
            runs = {s: futures[s].result() for s in SETTINGS}
    else:
        data = build_dataset(DATA, ctx.device)
        runs = {s: _train(ctx, s, data, net, real, *args) for s in SETTINGS}
    grids = {s: run.pop("samples") for s, run in runs.items()}
    r = {
        "steps": runs["nsgan-bn"]["steps"],
        "fid": {s: run["fid"] for s, run in runs.items()},
        "fid_final": {s: run["fid_final"] for s, run in runs.items()},
        "runs": runs,
        "cpu_seconds_runs": round(sum(run["cpu_seconds"] for run in runs.values()), 1),
        "parallel_workers": workers,
        "settings": {"data": f"{DATA} (train split)", "features": f"{FEATURES} classifier penultimate layer ({net.dim}-d)",
                     "real": f"{n_real} {DATA} {REAL_SPLIT} images", "fake": f"{n_fake} samples, fixed latents, G in eval mode",
                     "steps": steps, "log_every": every, "batch_size": batch, "g_hidden": width, "d_hidden": width,
                     "arch": "dcgan", "ema": "off", "learning_rate": "constant (recipe values)",
                     "x_axis": "generator steps (WGAN-GP: 5 critic updates each)",
                     "trains": f"final FID <= {TRAINS} x step-0 FID"},
    }
    fid0, final = r["fid"], r["fid_final"]
    nsgan, wgan, ref = final["nsgan-no-bn"], final["wgan-gp-no-bn"], final["nsgan-bn"]
    checks = {
        "wgan_gp_no_bn_trains": math.isfinite(wgan) and wgan <= TRAINS * fid0["wgan-gp-no-bn"][0],
        "wgan_gp_no_bn_beats_nsgan_no_bn": math.isfinite(wgan) and not (nsgan <= wgan),
        "nsgan_no_bn_worse_than_with_bn": math.isfinite(ref) and not (nsgan <= ref),
    }
    text = (f"final domain FID after {steps} generator steps: no BN + GAN {nsgan:.3g}, no BN + WGAN-GP {wgan:.3g}, "
            f"BN + GAN (reference) {ref:.3g}; at step 0 {fid0['nsgan-bn'][0]:.3g} (BN) / {fid0['nsgan-no-bn'][0]:.3g} (no BN)")
    r["verdict"] = make_verdict("without batch norm the standard (non-saturating) GAN trains worse than with it, "
                                "while WGAN-GP still trains the same BN-free nets (lower FID)", checks, text)
    _figure(ctx, r, grids)
    return r
