"""Weight clipping versus gradient penalty in a deep critic (Gulrajani et al. 2017, "Improved Training of
Wasserstein GANs", Fig. 1).

A 12-hidden-layer ReLU MLP critic without batch norm (13 Linear layers, 512 wide, as in the paper) is
trained on the Swiss roll against a fixed "generator" (the real data plus Gaussian noise, their Fig. 1a):

- WGAN: critic loss E[D(fake)] − E[D(real)], RMSProp 5e-5, every parameter clipped to [−c, c] after each
  step, c ∈ {0.1, 0.01, 0.001} (Arjovsky et al. 2017);
- WGAN-GP: the same loss + 10·E[(‖∇D(x̂)‖ − 1)²], Adam 1e-4, betas (0.5, 0.9).

Then, as their Fig. 1b, the gradient of the critic loss flowing back through the layers: ``grad_norms``
is ‖∂L/∂h_l‖ for h_l the input of Linear layer l (l = 1 is the data itself). With clipping every layer
scales the backward signal by about the same factor, so across 13 layers it explodes (c = 0.1) or vanishes
(c ≤ 0.01) geometrically; with the penalty it stays flat. And the weights pile up at ±c (their Fig. 1c):
``fraction_at_clip`` is the share of weight-matrix entries with |w| = c.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from gankit.data import build_dataset
from gankit.experiments import ExperimentContext, make_verdict, register_experiment
from gankit.experiments._common import model_seed, new_figure, save_figure, to_numpy
from gankit.losses import wasserstein_critic_loss
from gankit.nets.mlp import MLPDiscriminator
from gankit.penalties import clip_weights_, gradient_penalty

CLIPS = (0.1, 0.01, 0.001)
WIDTH, HIDDEN_LAYERS = 512, 12
FAKE_NOISE = 0.2  # std of the Gaussian noise added to real data to make the fixed "generator"
EXTENT = (-1.8, 2.4, -1.8, 2.4)  # box of the value surfaces
SURFACES = ("0.01", "gp")  # settings whose critic value surface is drawn


def _linears(critic: nn.Module) -> list[nn.Linear]:
    return [m for m in critic.modules() if isinstance(m, nn.Linear)]


def _layer_gradients(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> tuple[list[float], list[float]]:
    """‖∂L/∂h_l‖ for the input h_l of every Linear layer, and ‖∂L/∂W_l‖, for L the Wasserstein critic loss.

    Measured on a float64 copy of the critic: with c = 0.001 the signal falls below float32's smallest
    number within a few layers and would read as an uninformative 0.
    """
    critic = copy.deepcopy(critic).double()
    real, fake = real.double(), fake.double()
    inputs: list[torch.Tensor] = []

    def keep(module, args):
        args[0].retain_grad()
        inputs.append(args[0])

    hooks = [layer.register_forward_pre_hook(keep) for layer in _linears(critic)]
    x = torch.cat([real, fake]).requires_grad_(True)
    try:
        scores = critic(x)
    finally:
        for hook in hooks:
            hook.remove()
    wasserstein_critic_loss(scores[: len(real)], scores[len(real):]).backward()
    return [float(h.grad.norm()) for h in inputs], [float(layer.weight.grad.norm()) for layer in _linears(critic)]


def _train(ctx: ExperimentContext, index: int, setting: str, data, steps: int, batch: int) -> dict:
    """Train one critic (``setting`` is a clipping bound c or "gp"); its gradients, weights and surface."""
    model_seed(ctx.seed, index)
    critic = MLPDiscriminator(2, WIDTH, HIDDEN_LAYERS).to(ctx.device)
    rng = ctx.rng(1)
    clip = None if setting == "gp" else float(setting)
    if clip is None:
        optimizer = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.9))
    else:
        optimizer = torch.optim.RMSprop(critic.parameters(), lr=5e-5)
        clip_weights_(critic, clip)

    def batches(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        real = data.sample(n, rng)[0]
        noise = torch.randn(n, 2, generator=rng, device=rng.device).to(real.device)
        return real, data.sample(n, rng)[0] + FAKE_NOISE * noise

    for _ in range(steps):
        real, fake = batches(batch)
        loss = wasserstein_critic_loss(critic(real), critic(fake))
        if clip is None:
            loss = loss + gradient_penalty(critic, real, fake, weight=10.0, generator=rng)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if clip is not None:
            clip_weights_(critic, clip)

    per_batch = [_layer_gradients(critic, *batches(ctx.budget(128, 256))) for _ in range(ctx.budget(1, 4))]
    weights = torch.cat([layer.weight.detach().flatten() for layer in _linears(critic)])
    bound = clip if clip is not None else float(weights.abs().max())
    counts, edges = np.histogram(to_numpy(weights / bound), bins=60, range=(-1.0, 1.0))
    xs, ys = np.linspace(EXTENT[0], EXTENT[1], 60), np.linspace(EXTENT[2], EXTENT[3], 60)
    grid = torch.tensor(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2), dtype=torch.float64, device=ctx.device)
    with torch.no_grad():
        real, fake = batches(4096)
        gap = float(critic(real).mean() - critic(fake).mean())
        # float64, like the gradients: a c = 0.01 critic varies by ~1e-12, below float32's resolution of its offset
        surface = copy.deepcopy(critic).double()(grid).reshape(60, 60) if setting in SURFACES else None
    return {
        "grad_norms": np.mean([g for g, _ in per_batch], axis=0).tolist(),
        "weight_grad_norms": np.mean([w for _, w in per_batch], axis=0).tolist(),
        "fraction_at_bound": float((weights.abs() >= bound * (1 - 1e-6)).float().mean()),
        "histogram": {"edges_over_bound": edges.tolist(), "counts": counts.tolist(), "bound": bound},
        "surface": None if surface is None else to_numpy(surface),
        "critic_gap": gap,
    }


def _label(setting: str) -> str:
    return "gradient penalty" if setting == "gp" else f"clip c = {setting}"


def _surface(ax, fig, surface, real: np.ndarray, title: str) -> None:
    xs, ys = np.linspace(EXTENT[0], EXTENT[1], 60), np.linspace(EXTENT[2], EXTENT[3], 60)
    contour = ax.contourf(xs, ys, np.asarray(surface), levels=20, cmap="viridis")
    fig.colorbar(contour, ax=ax, shrink=0.85, label="critic value")
    ax.scatter(real[:, 0], real[:, 1], s=2, color="white", alpha=0.8)
    ax.set(title=title, xlabel="x", ylabel="y", aspect="equal")


def _figure(ctx: ExperimentContext, r: dict, data) -> None:
    fig, axes = new_figure(3, 2, width=4.4, height=3.8)
    colours = {"0.1": "tab:red", "0.01": "tab:orange", "0.001": "tab:purple", "gp": "tab:green"}
    ax = axes[0, 0]
    for setting, norms in r["grad_norms"].items():
        ax.plot(np.arange(1, len(norms) + 1), norms, "o-", ms=3, color=colours[setting], label=_label(setting))
    ax.set(yscale="log", xlabel="critic layer (1 = input)", ylabel="‖∂L/∂h_l‖ (log scale)",
           title="(a) gradient backpropagated to each layer")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3, which="both")
    for ax, setting, letter in ((axes[0, 1], "0.01", "b"), (axes[0, 2], "gp", "c")):
        h = r["histograms"][setting]
        ax.stairs(h["counts"], np.asarray(h["edges_over_bound"]) * h["bound"], fill=True, color=colours[setting])
        ax.set(yscale="log", xlabel="weight value", ylabel="count (log scale)", title=f"({letter}) weights, {_label(setting)}")
    real = to_numpy(data.sample(400, ctx.rng(5))[0])
    _surface(axes[1, 0], fig, r["surfaces"]["0.01"], real, "(d) critic value, clip c = 0.01")
    _surface(axes[1, 1], fig, r["surfaces"]["gp"], real, "(e) critic value, gradient penalty")
    ax = axes[1, 2]
    labels = [f"c={c}" for c in r["fraction_at_clip"]] + ["GP*"]
    values = list(r["fraction_at_clip"].values()) + [r["gp_fraction_at_max_abs_weight"]]
    bars = ax.bar(labels, values, color=[colours[c] for c in r["fraction_at_clip"]] + [colours["gp"]])
    ax.bar_label(bars, labels=[f"{v:.1%}" for v in values], fontsize="small")
    ax.set(ylim=(0, 1.1), ylabel="fraction of weight entries", title="(f) weights sitting at ±c")
    ax.text(0.98, 0.6, "*GP: at ± its largest |w|", transform=ax.transAxes, ha="right", fontsize="small")
    save_figure(fig, ctx.figure_path, title=f"{HIDDEN_LAYERS}-hidden-layer ReLU critic on the Swiss roll (WGAN-GP Fig. 1)")


@register_experiment("weight-clipping", "12-layer critic: clipping explodes/vanishes gradients and piles weights at ±c; GP does not")
def run(ctx: ExperimentContext) -> dict:
    data = build_dataset("swissroll", ctx.device)
    steps, batch = ctx.budget(30, 400), ctx.budget(64, 128)
    settings = [str(c) for c in CLIPS] + ["gp"]
    results = {s: _train(ctx, i, s, data, steps, batch) for i, s in enumerate(settings)}
    r = {
        "grad_norms": {s: v["grad_norms"] for s, v in results.items()},
        "weight_grad_norms": {s: v["weight_grad_norms"] for s, v in results.items()},
        "fraction_at_clip": {s: results[s]["fraction_at_bound"] for s in settings if s != "gp"},
        "gp_fraction_at_max_abs_weight": results["gp"]["fraction_at_bound"],
        "histograms": {s: v["histogram"] for s, v in results.items()},
        "surfaces": {s: results[s]["surface"] for s in SURFACES},
        "critic_gap": {s: v["critic_gap"] for s, v in results.items()},
        "settings": {"critic": f"MLP 2-{WIDTH}x{HIDDEN_LAYERS}-1 ReLU, no batch norm", "steps": steps, "batch_size": batch,
                     "fake": f"real + N(0, {FAKE_NOISE}²)", "clipping_optimizer": "RMSProp 5e-5",
                     "gp_optimizer": "Adam 1e-4 (0.5, 0.9), λ=10", "surface_extent": EXTENT},
    }
    # log10 of (signal at the input layer / signal at the output layer): > 0 explodes backwards, < 0 vanishes.
    span = {s: float(np.log10(v[0] / v[-1])) for s, v in r["grad_norms"].items()}
    gp = np.asarray(r["grad_norms"]["gp"])
    r["log10_gradient_span"] = span
    checks = {f"clip_{c}_explodes_or_vanishes": abs(span[c]) >= 2 for c in r["fraction_at_clip"]}
    checks["clip_0.01_weights_at_bound"] = r["fraction_at_clip"]["0.01"] >= 0.5
    checks["gp_gradient_flat_within_10x"] = float(gp.max() / gp.min()) < 10
    checks["gp_weights_not_piled_at_extremes"] = r["gp_fraction_at_max_abs_weight"] < 0.01
    text = ("input/output gradient ratio " + ", ".join(f"{_label(s)}: 10^{v:+.1f}" for s, v in span.items())
            + "; weights at ±c: " + ", ".join(f"c={c}: {f:.0%}" for c, f in r["fraction_at_clip"].items()))
    r["verdict"] = make_verdict("weight clipping makes gradients explode or vanish across layers and piles weights "
                                "at ±c; the gradient penalty does neither", checks, text)
    _figure(ctx, r, data)
    return r
