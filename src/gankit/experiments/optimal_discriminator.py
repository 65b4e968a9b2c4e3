"""The optimal discriminator and the value of the game (Goodfellow et al. 2014, Prop. 1 and Thm. 1).

For fixed G the minimax discriminator objective V(D, G) = E_{p_r}[log D(x)] + E_{p_g}[log(1 − D(x))] is
maximised pointwise by

    D*(x) = p_r(x) / (p_r(x) + p_g(x)),    and    V(D*, G) = −log 4 + 2·JS(p_r‖p_g).

With 1-D Gaussians both sides are integrals we can take numerically and independently: ``value`` integrates
V(D*, G) itself, ``value_theory`` integrates the JS divergence from its definition. A discriminator
trained by gradient descent on samples (the minimax loss, which is −V) is then compared with D*: its
largest error where the data live (the central 99% of the mixture (p_r + p_g)/2) and its value, which
can only be below V(D*, G).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from gankit.data import build_dataset
from gankit.experiments import ExperimentContext, make_verdict, register_experiment
from gankit.experiments._common import fit_discriminator, model_seed, new_figure, save_figure
from gankit.losses import minimax_discriminator_loss
from gankit.nets.mlp import MLPDiscriminator

REAL_MEAN, REAL_STD = 2.0, 0.5  # p_r: gankit's gauss1d defaults
FAKE_STD = 1.0  # p_g = N(μ_g, 1), μ_g swept
X = np.linspace(-12.0, 14.0, 26001)  # integration grid: both densities are < 1e-30 beyond it


def log_normal(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    return -0.5 * ((x - mean) / std) ** 2 - math.log(std * math.sqrt(2 * math.pi))


def game_value(log_pr: np.ndarray, log_pg: np.ndarray, logit: np.ndarray) -> float:
    """V(D, G) = ∫ p_r log D + p_g log(1 − D) dx with D = σ(logit); log σ(l) = −softplus(−l) stays finite."""
    log_d = -np.logaddexp(0.0, -logit)
    log_one_minus_d = -np.logaddexp(0.0, logit)
    return float(np.trapezoid(np.exp(log_pr) * log_d + np.exp(log_pg) * log_one_minus_d, X))


def jensen_shannon(log_pr: np.ndarray, log_pg: np.ndarray) -> float:
    """JS(p_r‖p_g) = ½ ∫ p_r log(p_r/m) + ½ ∫ p_g log(p_g/m), m = (p_r + p_g)/2, by the trapezoid rule."""
    log_m = np.logaddexp(log_pr, log_pg) - math.log(2.0)
    return float(0.5 * np.trapezoid(np.exp(log_pr) * (log_pr - log_m) + np.exp(log_pg) * (log_pg - log_m), X))


def data_region(log_pr: np.ndarray, log_pg: np.ndarray) -> np.ndarray:
    """Mask of the central 99% of the mixture m = (p_r + p_g)/2, where D is judged (elsewhere it never sees data)."""
    m = 0.5 * (np.exp(log_pr) + np.exp(log_pg))
    cdf = np.cumsum(m) / m.sum()
    return (cdf >= 0.005) & (cdf <= 0.995)


def _setting(ctx: ExperimentContext, index: int, fake_mean: float, steps: int, batch: int) -> dict:
    log_pr, log_pg = log_normal(X, REAL_MEAN, REAL_STD), log_normal(X, fake_mean, FAKE_STD)
    d_star_logit = log_pr - log_pg  # logit of D* = log(p_r/p_g)
    real = build_dataset("gauss1d", ctx.device, mean=REAL_MEAN, std=REAL_STD)
    fake = build_dataset("gauss1d", ctx.device, mean=fake_mean, std=FAKE_STD)
    rng = ctx.rng(10 + index)
    model_seed(ctx.seed, index)
    D = MLPDiscriminator(1, hidden=64, layers=2).to(ctx.device)
    fit_discriminator(D, lambda n: real.sample(n, rng)[0], lambda n: fake.sample(n, rng)[0],
                      lambda D, r, f: minimax_discriminator_loss(D(r), D(f)), steps, batch, lr=2e-3)
    with torch.no_grad():
        logit = D(torch.as_tensor(X, dtype=torch.float32, device=ctx.device)[:, None]).double().cpu().numpy()
    region = data_region(log_pr, log_pg)
    error = np.abs(1 / (1 + np.exp(-logit)) - 1 / (1 + np.exp(-d_star_logit)))
    jsd = jensen_shannon(log_pr, log_pg)
    return {
        "fake_mean": fake_mean,
        "jsd": jsd,
        "value": game_value(log_pr, log_pg, d_star_logit),
        "value_theory": -math.log(4.0) + 2 * jsd,
        "value_trained": game_value(log_pr, log_pg, logit),
        "d_star_max_error": float(error[region].max()),
        "region": [float(X[region][0]), float(X[region][-1])],
        "logit": logit,
        "d_star_logit": d_star_logit,
    }


def _figure(ctx: ExperimentContext, main: dict, sweep: dict) -> None:
    fig, axes = new_figure(3, width=4.4)
    show = (X >= -3.5) & (X <= 4.5)
    x = X[show]
    d_star = 1 / (1 + np.exp(-main["d_star_logit"][show]))
    d_trained = torch.sigmoid(torch.as_tensor(main["logit"][show])).numpy()
    ax = axes[0, 0]
    ax.fill_between(x, np.exp(log_normal(x, REAL_MEAN, REAL_STD)), color="0.85", label="p_r = N(2, 0.5²)")
    ax.plot(x, np.exp(log_normal(x, main["fake_mean"], FAKE_STD)), color="tab:blue", lw=1, label=f"p_g = N({main['fake_mean']:g}, 1)")
    ax.plot(x, d_star, color="k", lw=2, label="D* = p_r/(p_r+p_g)")
    ax.plot(x, d_trained, color="tab:orange", ls="--", lw=2, label="trained D")
    ax.axvspan(*main["region"], color="tab:green", alpha=0.07, label="central 99% of data")
    ax.set(xlabel="x", title="(a) trained D against D*")
    ax.legend(fontsize="x-small", loc="center left")

    ax = axes[0, 1]
    ax.plot(x, d_trained - d_star, color="tab:orange")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvspan(*main["region"], color="tab:green", alpha=0.07)
    ax.set(xlabel="x", ylabel="D(x) − D*(x)",
           title=f"(b) error: max {main['d_star_max_error']:.3f} in the data region")

    ax = axes[0, 2]
    ax.plot(sweep["fake_mean"], sweep["value"], "o-", color="k", label="V(D*, G) (integrated)")
    ax.plot(sweep["fake_mean"], sweep["value_theory"], "x--", color="tab:red", ms=9, label="−log 4 + 2·JS(p_r‖p_g)")
    ax.plot(sweep["fake_mean"], sweep["value_trained"], "s", mfc="none", color="tab:orange", label="V(trained D, G)")
    ax.axhline(-math.log(4.0), color="0.6", ls=":", lw=1)
    ax.set(xlabel="μ_g (mean of p_g)", ylabel="value of the game", title="(c) V(D*, G) = −log 4 + 2·JS")
    ax.legend(fontsize="small")
    save_figure(fig, ctx.figure_path)


@register_experiment("optimal-discriminator", "1-D Gaussians: trained D ≈ p_r/(p_r+p_g) and V(D*, G) = −log 4 + 2·JSD")
def run(ctx: ExperimentContext) -> dict:
    means = ctx.budget([0.0, 1.0, 2.0], [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0])
    steps, batch = ctx.budget(1000, 3000), 512
    settings = [_setting(ctx, i, m, steps, batch) for i, m in enumerate(means)]
    main = settings[means.index(0.0)]
    keys = ["fake_mean", "jsd", "value", "value_theory", "value_trained", "d_star_max_error"]
    sweep = {k: [s[k] for s in settings] for k in keys}
    show = (X >= -3.5) & (X <= 4.5)
    r = {
        "d_star_max_error": main["d_star_max_error"],
        "value": main["value"],
        "value_theory": main["value_theory"],
        "value_trained": main["value_trained"],
        "main_setting": {"real": f"N({REAL_MEAN}, {REAL_STD}²)", "fake": f"N({main['fake_mean']}, {FAKE_STD}²)",
                         "region": main["region"], "x": X[show],
                         "d_star": 1 / (1 + np.exp(-main["d_star_logit"][show])),
                         "d_trained": 1 / (1 + np.exp(-main["logit"][show]))},
        "sweep": sweep,
        "settings": {"steps": steps, "batch_size": batch, "net": "MLP 1-64-64-1 ReLU, Adam 2e-3 (0.5, 0.999), linear decay",
                     "integration": f"trapezoid on {len(X)} points over [{X[0]}, {X[-1]}]"},
    }
    gap = max(abs(v - t) for v, t in zip(sweep["value"], sweep["value_theory"]))
    shortfall = [v - t for v, t in zip(sweep["value"], sweep["value_trained"])]
    r["value_max_abs_difference"] = gap
    checks = {
        "value_equals_minus_log4_plus_2jsd": gap < 1e-6,
        "trained_d_close_to_d_star": max(sweep["d_star_max_error"]) < 0.1,
        "trained_d_value_not_above_optimum": min(shortfall) > -1e-4,
        "trained_d_value_near_optimum": max(shortfall) < 0.02,
    }
    text = (f"|V(D*,G) - (-log 4 + 2 JSD)| <= {gap:.1e} over {len(means)} generators; trained D within "
            f"{max(sweep['d_star_max_error']):.3f} of D* in the data region and {max(shortfall):.4f} nats below V(D*,G)")
    r["verdict"] = make_verdict("D*(x) = p_r/(p_r+p_g) and V(D*, G) = −log 4 + 2·JSD(p_r‖p_g)", checks, text)
    _figure(ctx, main, sweep)
    return r
