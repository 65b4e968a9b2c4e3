"""JS is blind to distance, W1 is not: the seeds' parallel lines (WGAN, Arjovsky et al. 2017, Example 1).

p = (0, Y) and q = (θ, Y) with Y ~ U(0, 1): two segments that overlap only when θ = 0. Exactly,

    KL(p‖q) = +∞,  JS(p‖q) = log 2,  W1(p, q) = |θ|      for every θ ≠ 0,

and all three are 0 at θ = 0: JS jumps and is flat elsewhere (no gradient for a generator to follow), W1
is continuous with slope ±1. The exact curves are computed from the definitions on the measure
(atoms in x) × (Lebesgue in y); W1 is pinned between a coupling's cost and a 1-Lipschitz witness.

Estimates from samples, at fewer θ:
- JS from a discriminator trained with the minimax loss: at the optimal D the loss is log 4 − 2·JS
  (Goodfellow et al. 2014, Thm. 1), so ``js_estimate = log 2 − L_D/2`` on held-out samples;
- W1 from POT's exact optimal transport between the two samples (``w1_estimate.pot``);
- W1 from a WGAN-GP critic (Gulrajani et al. 2017) via Kantorovich-Rubinstein,
  ``w1_estimate.critic = E_p[D] − E_q[D]`` on held-out samples.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from gankit.data import build_dataset
from gankit.experiments import ExperimentContext, make_verdict, register_experiment
from gankit.experiments._common import fit_discriminator, model_seed, new_figure, save_figure
from gankit.losses import minimax_discriminator_loss, wasserstein_critic_loss
from gankit.metrics.toy import wasserstein1
from gankit.nets.mlp import MLPDiscriminator
from gankit.penalties import gradient_penalty

LOG2 = math.log(2.0)
Y_GRID = np.linspace(0.0, 1.0, 1001)  # y ∈ [0, 1]; both densities are 1 there


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p‖q) = Σ_atoms ∫ p log(p/q) dy, with 0·log(0/q) = 0 and p·log(p/0) = +∞."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / q), 0.0)
    return float(np.trapezoid(terms, Y_GRID, axis=-1).sum())


def exact_divergences(theta: float) -> dict[str, float]:
    """KL(p‖q), JS(p‖q) and W1(p, q) of the two segments, from the definitions.

    The densities live on the x-atoms {0, θ} (one atom when θ = 0), each a function of y. W1 is the cost
    of the translation coupling (x, y) ↦ (x + θ, y) (an upper bound) and equals E_p[f] − E_q[f] for the
    1-Lipschitz f(x, y) = −sign(θ)·x (a lower bound, Kantorovich-Rubinstein): both are returned.
    """
    atoms = sorted({0.0, float(theta)})
    ones, zeros = np.ones_like(Y_GRID), np.zeros_like(Y_GRID)
    p = np.stack([ones if a == 0.0 else zeros for a in atoms])
    q = np.stack([ones if a == theta else zeros for a in atoms])
    m = (p + q) / 2
    coupling_cost = float(np.trapezoid(np.hypot(theta, Y_GRID - Y_GRID), Y_GRID))
    witness = -np.sign(theta)
    return {
        "kl": _kl(p, q),
        "js": 0.5 * _kl(p, m) + 0.5 * _kl(q, m),
        "w1": coupling_cost,
        "w1_dual": float(witness * 0.0 - witness * theta),
    }


def _estimates(ctx: ExperimentContext, theta: float, index: int, steps: int, batch: int, n_eval: int) -> dict:
    """JS and W1 of p and q at ``theta`` estimated from samples (a trained D, POT, a WGAN-GP critic)."""
    data = build_dataset("parallel-lines", ctx.device, theta=theta)
    rng = ctx.rng(100 + index)
    p = lambda n: data.sample_line(n, rng, 0.0)  # noqa: E731
    q = lambda n: data.sample_other(n, rng)  # noqa: E731

    model_seed(ctx.seed, 2 * index)
    D = MLPDiscriminator(2, hidden=64, layers=2).to(ctx.device)
    fit_discriminator(D, p, q, lambda D, r, f: minimax_discriminator_loss(D(r), D(f)), steps, batch, lr=2e-3)

    model_seed(ctx.seed, 2 * index + 1)
    critic = MLPDiscriminator(2, hidden=64, layers=2).to(ctx.device)
    gp_loss = lambda C, r, f: wasserstein_critic_loss(C(r), C(f)) + gradient_penalty(C, r, f, 10.0, generator=rng)  # noqa: E731
    fit_discriminator(critic, p, q, gp_loss, steps, batch, lr=1e-3, betas=(0.5, 0.9))

    held_p, held_q = p(n_eval), q(n_eval)
    with torch.no_grad():
        bce = float(minimax_discriminator_loss(D(held_p), D(held_q)))
        critic_gap = float(critic(held_p).mean() - critic(held_q).mean())
    return {"js": LOG2 - bce / 2, "pot": wasserstein1(held_p[:1000], held_q[:1000]), "critic": critic_gap}


def _figure(ctx: ExperimentContext, r: dict) -> None:
    fig, axes = new_figure(3, width=4.4)
    ax = axes[0, 0]
    rng = np.random.default_rng(ctx.seed)
    y_p, y_q = rng.uniform(0, 1, 60), rng.uniform(0, 1, 60)
    ax.scatter(np.zeros(60), y_p, s=10, color="0.4", label="p = (0, U(0,1))")
    ax.scatter(np.full(60, 0.5), y_q, s=10, color="tab:blue", label="q = (θ, U(0,1)), θ = 0.5")
    ax.set(xlim=(-0.5, 1.0), ylim=(-0.1, 1.25), xlabel="x", ylabel="y", title="(a) two disjoint segments")
    ax.legend(fontsize="small", loc="upper right")

    theta = np.asarray(r["theta"])
    ax = axes[0, 1]
    ax.plot(theta[theta != 0], np.asarray(r["js"])[theta != 0], ".", ms=3, color="tab:red", label="JS exact (θ ≠ 0)")
    ax.plot([0], [0], "o", color="tab:red", mfc="white", label="JS exact at θ = 0")
    ax.plot(r["estimate_theta"], r["js_estimate"], "s", color="k", ms=5, label="JS from trained D")
    ax.axhline(LOG2, color="0.6", ls=":", lw=1)
    ax.text(0.02, 0.97, "KL(p‖q) = +∞ for every θ ≠ 0", transform=ax.transAxes, va="top", fontsize="small")
    ax.set(xlabel="θ", ylabel="divergence (nats)", ylim=(-0.05, 0.85), title="(b) JS: log 2 everywhere but 0")
    ax.legend(fontsize="small", loc="lower right")

    ax = axes[0, 2]
    ax.plot(theta, r["w1"], color="tab:green", label="W1 exact = |θ|")
    ax.plot(r["estimate_theta"], r["w1_estimate"]["pot"], "o", mfc="none", color="k", label="W1 from POT (samples)")
    ax.plot(r["estimate_theta"], r["w1_estimate"]["critic"], "^", color="tab:purple", label="W1 from WGAN-GP critic")
    ax.set(xlabel="θ", ylabel="distance", title="(c) W1: continuous, slope ±1")
    ax.legend(fontsize="small", loc="upper center")
    save_figure(fig, ctx.figure_path)


@register_experiment("js-vs-wasserstein", "parallel lines: JS = log 2 for every θ ≠ 0 while W1 = |θ| (exact and estimated)")
def run(ctx: ExperimentContext) -> dict:
    theta = np.arange(-100, 101) / 100  # includes exactly 0
    exact = [exact_divergences(float(t)) for t in theta]
    estimate_theta = ctx.budget([-1.0, -0.5, 0.0, 0.5, 1.0], np.round(np.linspace(-1, 1, 13), 4).tolist())
    steps, batch = ctx.budget(250, 1500), 256
    estimates = [_estimates(ctx, t, i, steps, batch, 4096) for i, t in enumerate(estimate_theta)]

    r = {
        "theta": theta.tolist(),
        "kl": [e["kl"] for e in exact],
        "js": [e["js"] for e in exact],
        "w1": [e["w1"] for e in exact],
        "w1_dual": [e["w1_dual"] for e in exact],
        "estimate_theta": estimate_theta,
        "js_estimate": [e["js"] for e in estimates],
        "w1_estimate": {"pot": [e["pot"] for e in estimates], "critic": [e["critic"] for e in estimates]},
        "settings": {"estimate_steps": steps, "batch_size": batch, "eval_samples": 4096, "pot_samples": 1000,
                     "nets": "MLP 2-64-64-1 ReLU; D: Adam 2e-3, critic: Adam 1e-3 (0.5, 0.9), GP λ=10"},
    }
    off = theta != 0
    js, w1, kl = np.asarray(r["js"]), np.asarray(r["w1"]), np.asarray(r["kl"])
    est_t = np.asarray(estimate_theta)
    critic_err = np.abs(np.asarray(r["w1_estimate"]["critic"]) - np.abs(est_t))
    far = np.abs(est_t) >= 0.5
    r["js_max_error_off_zero"] = float(np.abs(js[off] - LOG2).max())
    r["w1_max_error"] = float(np.abs(w1 - np.abs(theta)).max())
    r["w1_critic_max_error"] = float(critic_err.max())
    checks = {
        "js_is_log2_for_theta_nonzero": r["js_max_error_off_zero"] < 1e-6,
        "js_is_0_at_theta_0": abs(js[~off][0]) < 1e-12,
        "kl_is_infinite_for_theta_nonzero": bool(np.isinf(kl[off]).all()),
        "w1_is_abs_theta": r["w1_max_error"] < 1e-9 and np.allclose(w1, r["w1_dual"], atol=1e-12),
        "critic_estimates_abs_theta": r["w1_critic_max_error"] < 0.15,
        "trained_d_js_near_log2_for_abs_theta_ge_half": bool((np.abs(np.asarray(r["js_estimate"])[far] - LOG2) < 0.1).all()),
    }
    text = (f"exact: |JS - log 2| <= {r['js_max_error_off_zero']:.1e} for all θ ≠ 0, |W1 - |θ|| <= {r['w1_max_error']:.1e}; "
            f"WGAN-GP critic W1 within {r['w1_critic_max_error']:.3f} of |θ|; "
            f"trained-D JS at θ=±1: {r['js_estimate'][0]:.3f}, {r['js_estimate'][-1]:.3f} (log 2 = {LOG2:.3f})")
    r["verdict"] = make_verdict("JS(p‖q) = log 2 for every θ ≠ 0 while W1(p, q) = |θ|", checks, text)
    _figure(ctx, r)
    return r
