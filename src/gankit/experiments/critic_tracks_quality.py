"""Does the critic's loss tell you how good the samples are? (Arjovsky et al. 2017, "Wasserstein GAN", Fig. 3-4)

A WGAN-GP critic's gap E_data[D] − E_G[D] estimates W1(P_data, P_G) (Kantorovich-Rubinstein); a GAN
discriminator's loss L_D estimates a Jensen-Shannon divergence, JS ≈ log 2 − L_D/2 at the optimum
(Goodfellow et al. 2014). Over one training run of each we record, every few generator steps,

- ``estimate``: the critic gap (WGAN-GP) or log 2 − L_D/2 (GAN), on held-out batches, no penalty term;
- ``w1``: the sample quality, the exact W1 between 1000 generator samples and 1000 data points (POT).

Both are *distances* (lower = closer to the data), so a loss that tracks quality has a strongly positive
Spearman rank correlation with W1: ``spearman[model] = ρ(estimate, w1)`` over the logged steps. The
WGAN paper's claim: the Wasserstein estimate correlates with quality, the GAN's does not.
The loop is written out here (it mirrors :func:`gankit.training.loop.train`) because it reads D at each
logged step; hyperparameters come from the recipes, with a constant learning rate as in the paper. Before
the first generator step D is trained alone for a few hundred iterations (WGAN's reference code does the
same: 100 critic iterations per generator step for the first 25), so the first estimate is not that of an
untrained network.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.stats import spearmanr

from gankit.data import build_dataset
from gankit.experiments import ExperimentContext, make_verdict, register_experiment
from gankit.experiments._common import model_seed, new_figure, save_figure
from gankit.losses import get_loss
from gankit.metrics.toy import wasserstein1
from gankit.nets import build_networks, sample_latent
from gankit.penalties import gradient_penalty
from gankit.recipes import resolve_config
from gankit.training.loop import make_optimizer

DATA = "grid25"
MODELS = {"wgan-gp": "WGAN-GP critic: E[D(x)] − E[D(G(z))]", "nsgan": "GAN discriminator: log 2 − L_D/2"}
EVAL_SAMPLES = 1000


def _train(ctx: ExperimentContext, recipe: str, index: int, steps: int, every: int, warmup: int) -> dict:
    config = resolve_config(recipe, DATA, "vector")
    data = build_dataset(DATA, ctx.device)
    model_seed(ctx.seed, index)
    G, D = (net.to(ctx.device) for net in build_networks(config.model, data.shape))
    loss = get_loss(config.loss.name)
    opt_g = make_optimizer(config.optim, G.parameters(), config.optim.lr_g)
    opt_d = make_optimizer(config.optim, D.parameters(), config.optim.lr_d)
    rng, batch = ctx.rng(20 + index), config.data.batch_size
    eval_rng = ctx.rng(30)  # the same reference data and z for every logged step and both models
    reference = data.sample(EVAL_SAMPLES, eval_rng)[0]
    held_real = data.sample(4096, eval_rng)[0]
    z_eval = sample_latent(4096, G.z_dim, eval_rng, ctx.device)
    out = {"steps": [], "estimate": [], "w1": []}

    def train_d(iterations: int) -> None:
        for _ in range(iterations):
            real = data.sample(batch, rng)[0]
            with torch.no_grad():
                fake = G(sample_latent(batch, G.z_dim, rng, ctx.device))
            loss_d = loss.discriminator(D(real), D(fake))
            if config.loss.gp_weight > 0:
                loss_d = loss_d + gradient_penalty(D, real, fake, weight=config.loss.gp_weight, generator=rng)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()

    train_d(warmup)  # a critic fitted to the initial G, so the first estimate already means something
    for step in range(steps + 1):
        if step % every == 0:
            with torch.no_grad():
                fake = G(z_eval)
                real_out, fake_out = D(held_real), D(fake)
                if config.loss.name == "wgan":
                    estimate = float(real_out.mean() - fake_out.mean())
                else:
                    estimate = math.log(2.0) - float(loss.discriminator(real_out, fake_out)) / 2
            out["steps"].append(step)
            out["estimate"].append(estimate)
            out["w1"].append(wasserstein1(fake[:EVAL_SAMPLES], reference))
        if step == steps:
            break
        train_d(config.train.n_critic)
        loss_g = loss.generator(D(G(sample_latent(batch, G.z_dim, rng, ctx.device))))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
    rho = spearmanr(out["estimate"], out["w1"])
    out["spearman"] = float(rho.statistic)
    out["spearman_pvalue"] = float(rho.pvalue)
    return out


def _figure(ctx: ExperimentContext, r: dict) -> None:
    fig, axes = new_figure(3, width=4.4)
    for col, (model, title) in enumerate(MODELS.items()):
        m = r["models"][model]
        ax = axes[0, col]
        ax.plot(m["steps"], m["estimate"], color="tab:blue")
        ax.set(xlabel="generator step", ylabel="critic's distance estimate", title=f"({'ab'[col]}) {title}")
        ax.title.set_fontsize("small")
        ax.yaxis.label.set_color("tab:blue")
        twin = ax.twinx()
        twin.plot(m["steps"], m["w1"], color="tab:red", ls="--")
        twin.set_ylabel("W1(samples, data)", color="tab:red")
        ax.text(0.97, 0.95, f"Spearman ρ = {m['spearman']:+.2f}", transform=ax.transAxes, ha="right", va="top")
        axes[0, 2].plot(m["w1"], m["estimate"], "o-" if model == "wgan-gp" else "s-", ms=3,
                        label=f"{model} (ρ = {m['spearman']:+.2f})")
    axes[0, 2].set(xlabel="W1(samples, data)  (lower = better samples)", ylabel="critic's distance estimate",
                   title="(c) estimate against sample quality")
    axes[0, 2].legend(fontsize="small")
    axes[0, 2].grid(alpha=0.3)
    save_figure(fig, ctx.figure_path, title=f"Does the loss track sample quality? ({DATA})")


@register_experiment("critic-tracks-quality", "WGAN-GP's critic estimate tracks sample quality (W1 to data); a GAN's D loss does not")
def run(ctx: ExperimentContext) -> dict:
    steps, every, warmup = ctx.budget(300, 3000), ctx.budget(25, 100), ctx.budget(500, 1000)
    models = {m: _train(ctx, m, i, steps, every, warmup) for i, m in enumerate(MODELS)}
    r = {
        "spearman": {m: v["spearman"] for m, v in models.items()},
        "models": models,
        "settings": {"data": DATA, "steps": steps, "log_every": every, "eval_samples": EVAL_SAMPLES,
                     "estimate_batch": 4096, "critic_warmup_iterations": warmup, "learning_rate": "constant (recipe values)",
                     "sign": "spearman = rho(distance estimate, W1 to data); > 0: the loss tracks quality"},
    }
    wgan, gan = r["spearman"]["wgan-gp"], r["spearman"]["nsgan"]
    checks = {"wgan_gp_spearman_ge_0.8": wgan >= 0.8, "wgan_gp_tracks_better_than_gan": wgan > gan}
    text = f"Spearman rho(estimate, W1): WGAN-GP {wgan:+.2f}, GAN {gan:+.2f} over {len(models['nsgan']['steps'])} logged steps"
    r["verdict"] = make_verdict("the WGAN-GP critic's estimate rises and falls with the samples' W1 to the data; "
                                "the GAN discriminator's loss does not", checks, text)
    _figure(ctx, r)
    return r
