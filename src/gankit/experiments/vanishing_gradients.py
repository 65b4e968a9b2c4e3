"""Vanishing gradients of the minimax generator loss (Arjovsky & Bottou 2017, "Towards Principled Methods
for Training GANs", Fig. 2 and 3).

Their protocol, on the 8-Gaussian ring instead of LSUN bedrooms: train a GAN for 0, a few and more
steps; freeze that generator; train a fresh discriminator from scratch; every so often measure the norm
of the gradient, with respect to G's parameters, of the two generator losses

    minimax (saturating):   E_z[log(1 − D(G(z)))]    ∂/∂logit = −D(G(z))  → 0 as D rejects the fakes
    non-saturating (−log D): −E_z[log D(G(z))]       ∂/∂logit = −(1 − D(G(z))) → −1

As D approaches the optimum on (nearly) disjoint supports, D(G(z)) → 0 and the minimax gradient
vanishes by orders of magnitude, while the −log D gradient does not (it grows, with high variance:
their Fig. 3). A fast discriminator (Adam, lr 1e-3) stands in for "trained to optimality".
"""

from __future__ import annotations

import numpy as np
import torch

from gankit.data import build_dataset
from gankit.experiments import ExperimentContext, make_verdict, register_experiment
from gankit.experiments._common import log_spaced, model_seed, new_figure, save_figure
from gankit.losses import minimax_discriminator_loss, minimax_generator_loss, modified_generator_loss
from gankit.metrics.toy import mode_statistics
from gankit.nets.mlp import MLPDiscriminator, MLPGenerator, sample_latent

DATA = "ring8"
Z_DIM, HIDDEN, LAYERS, BATCH = 8, 128, 3, 256  # gankit's toy-lab defaults
DROP_REQUIRED = 100.0


def _train_generator(ctx: ExperimentContext, data, checkpoints: list[int]) -> dict[int, dict]:
    """Train G (and a D) with the non-saturating GAN for max(checkpoints) steps; G's weights at each checkpoint."""
    model_seed(ctx.seed, 0)
    G, D = MLPGenerator(Z_DIM, 2, HIDDEN, LAYERS).to(ctx.device), MLPDiscriminator(2, HIDDEN, LAYERS).to(ctx.device)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    rng, states = ctx.rng(1), {}
    for step in range(max(checkpoints) + 1):
        if step in checkpoints:
            states[step] = {k: v.detach().clone() for k, v in G.state_dict().items()}
        if step == max(checkpoints):
            break
        real = data.sample(BATCH, rng)[0]
        fake = G(sample_latent(BATCH, Z_DIM, rng, ctx.device)).detach()
        loss_d = minimax_discriminator_loss(D(real), D(fake))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = modified_generator_loss(D(G(sample_latent(BATCH, Z_DIM, rng, ctx.device))))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
    return states


def _grad_norm(G: torch.nn.Module, loss: torch.Tensor) -> float:
    """‖∇_θ_G loss‖₂ over all of G's parameters."""
    grads = torch.autograd.grad(loss, list(G.parameters()))
    return float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads)))


def _probe(ctx: ExperimentContext, data, G: torch.nn.Module, index: int, iterations: list[int]) -> dict:
    """Train a fresh D against the frozen G; at each of ``iterations`` record both generator gradient norms."""
    model_seed(ctx.seed, 100 + index)
    D = MLPDiscriminator(2, HIDDEN, LAYERS).to(ctx.device)
    opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    rng = ctx.rng(10 + index)
    z_probe = sample_latent(1024, Z_DIM, ctx.rng(7), ctx.device)  # the same z for every measurement
    real_probe = data.sample(1024, ctx.rng(8))[0]
    out = {k: [] for k in ("grad_norm_minimax", "grad_norm_nonsaturating", "d_loss", "d_fake_mean")}
    for it in range(1, max(iterations) + 1):
        with torch.no_grad():
            fake = G(sample_latent(BATCH, Z_DIM, rng, ctx.device))
        loss_d = minimax_discriminator_loss(D(data.sample(BATCH, rng)[0]), D(fake))
        opt.zero_grad(set_to_none=True)
        loss_d.backward()
        opt.step()
        if it in iterations:
            logits = D(G(z_probe))
            out["grad_norm_minimax"].append(_grad_norm(G, minimax_generator_loss(logits)))
            logits = D(G(z_probe))
            out["grad_norm_nonsaturating"].append(_grad_norm(G, modified_generator_loss(logits)))
            with torch.no_grad():
                out["d_loss"].append(float(minimax_discriminator_loss(D(real_probe), logits)))
                out["d_fake_mean"].append(float(torch.sigmoid(logits).mean()))
    minimax = np.asarray(out["grad_norm_minimax"])
    out["minimax_drop"] = float(minimax.max() / max(minimax[-1], 1e-300))
    out["nonsaturating_final_over_minimax_final"] = float(out["grad_norm_nonsaturating"][-1] / max(minimax[-1], 1e-300))
    return out


def _figure(ctx: ExperimentContext, r: dict) -> None:
    fig, axes = new_figure(3, width=4.4)
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
    for colour, (label, res) in zip(colours, r["generators"].items()):
        its = r["iterations"]
        axes[0, 0].plot(its, res["grad_norm_minimax"], "-", color=colour, label=label)
        axes[0, 1].plot(its, res["grad_norm_nonsaturating"], "-", color=colour, label=label)
        axes[0, 2].plot(its, res["d_loss"], "-", color=colour, label=label)
    axes[0, 0].set(title="(a) minimax: ‖∇θ E[log(1 − D(G(z)))]‖", ylabel="generator gradient norm")
    axes[0, 1].set(title="(b) non-saturating: ‖∇θ −E[log D(G(z))]‖", ylabel="generator gradient norm")
    axes[0, 2].set(title="(c) discriminator loss (held-out)", ylabel="minimax D loss")
    for ax in axes[0]:
        ax.set(xscale="log", yscale="log", xlabel="discriminator iterations (G frozen)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small", title="G trained for", title_fontsize="small")
    save_figure(fig, ctx.figure_path)


@register_experiment("vanishing-gradients", "G frozen, D trained from scratch: minimax G gradient vanishes, -log D does not")
def run(ctx: ExperimentContext) -> dict:
    data = build_dataset(DATA, ctx.device)
    checkpoints = ctx.budget([0, 100], [0, 500, 2000])
    d_iterations = ctx.budget(2000, 5000)
    iterations = log_spaced(d_iterations, ctx.budget(15, 30))
    states = _train_generator(ctx, data, checkpoints)
    G = MLPGenerator(Z_DIM, 2, HIDDEN, LAYERS).to(ctx.device)
    generators, quality = {}, {}
    for index, step in enumerate(checkpoints):
        G.load_state_dict(states[step])
        for p in G.parameters():
            p.requires_grad_(True)
        label = f"{step} steps"
        generators[label] = _probe(ctx, data, G, index, iterations)
        with torch.no_grad():
            stats = mode_statistics(G(sample_latent(2000, Z_DIM, ctx.rng(9), ctx.device)), data.modes, data.mode_std)
        quality[label] = {"modes": stats["modes"], "hq_fraction": stats["hq_fraction"]}
    r = {
        "iterations": iterations,
        "grad_norm_minimax": {k: v["grad_norm_minimax"] for k, v in generators.items()},
        "grad_norm_nonsaturating": {k: v["grad_norm_nonsaturating"] for k, v in generators.items()},
        "generators": generators,
        "generator_quality": quality,
        "settings": {"data": DATA, "generator_steps": checkpoints, "discriminator_iterations": d_iterations,
                     "G": f"MLP z{Z_DIM}-{HIDDEN}x{LAYERS}-2, NSGAN Adam 2e-4 (0.5, 0.999)",
                     "D": f"fresh MLP 2-{HIDDEN}x{LAYERS}-1, Adam 1e-3 (0.5, 0.999), batch {BATCH}",
                     "gradient_batch": 1024, "minimax_drop": "max over D iterations / value at the last one"},
    }
    drops = {k: v["minimax_drop"] for k, v in generators.items()}
    ratios = {k: v["nonsaturating_final_over_minimax_final"] for k, v in generators.items()}
    checks = {f"minimax_drop_ge_{DROP_REQUIRED:g}x_G_{k.replace(' ', '_')}": d >= DROP_REQUIRED for k, d in drops.items()}
    checks |= {f"nonsaturating_gt_minimax_at_end_G_{k.replace(' ', '_')}": q > 10 for k, q in ratios.items()}
    text = ("minimax gradient falls " + ", ".join(f"{d:.3g}x (G {k})" for k, d in drops.items())
            + "; at the end -log D's gradient is " + ", ".join(f"{q:.3g}x" for q in ratios.values()) + " larger")
    r["minimax_drop"] = drops
    r["verdict"] = make_verdict("as D improves, the minimax generator gradient vanishes by orders of magnitude "
                                "while the -log D gradient does not", checks, text)
    _figure(ctx, r)
    return r
