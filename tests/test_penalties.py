"""Gradient penalty, weight clipping, spectral norm and instance noise against their definitions."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from gankit.errors import GankitError
from gankit.penalties import (
    add_instance_noise,
    apply_spectral_norm,
    clip_weights_,
    critic_gradient_norms,
    gradient_penalty,
    instance_noise_std,
    interpolate,
)


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def linear_critic(weight: torch.Tensor) -> nn.Module:
    """D(x) = w·flatten(x) + b: its input gradient is w everywhere, so ‖∇D‖ = ‖w‖."""
    layer = nn.Linear(weight.numel(), 1).double()
    with torch.no_grad():
        layer.weight.copy_(weight.reshape(1, -1))
        layer.bias.fill_(0.3)
    return nn.Sequential(nn.Flatten(), layer)


def image_batches(n: int = 8, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = seeded(seed)
    shape = (n, 3, 2, 2)  # the norm must run over all 12 non-batch values
    real = torch.randn(shape, generator=gen, dtype=torch.float64)
    return real, torch.randn(shape, generator=gen, dtype=torch.float64)


# --- gradient penalty ------------------------------------------------------------------------------------


def test_gradient_penalty_vanishes_for_a_unit_norm_linear_critic():
    w = torch.randn(12, generator=seeded(2), dtype=torch.float64)
    real, fake = image_batches()
    gp = gradient_penalty(linear_critic(w / w.norm()), real, fake, generator=seeded())
    assert gp.item() < 1e-10


@pytest.mark.parametrize("scale, weight", [(0.3, 10.0), (2.5, 10.0), (4.0, 3.0)])
def test_gradient_penalty_equals_lambda_times_squared_excess_norm(scale, weight):
    w = torch.randn(12, generator=seeded(3), dtype=torch.float64)
    w = scale * w / w.norm()
    real, fake = image_batches()
    gp = gradient_penalty(linear_critic(w), real, fake, weight=weight, generator=seeded())
    assert gp.item() == pytest.approx(weight * (scale - 1) ** 2, rel=1e-12)


def test_one_sided_penalty_ignores_norms_below_one():
    real, fake = image_batches()
    w = torch.randn(12, generator=seeded(4), dtype=torch.float64)
    small, large = linear_critic(0.5 * w / w.norm()), linear_critic(1.5 * w / w.norm())
    assert gradient_penalty(small, real, fake, one_sided=True).item() == 0.0
    assert gradient_penalty(small, real, fake).item() == pytest.approx(10 * 0.25)
    assert gradient_penalty(large, real, fake, one_sided=True).item() == pytest.approx(10 * 0.25)


def test_gradient_penalty_matches_per_sample_autograd_on_a_nonlinear_critic():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    real, fake = image_batches()
    x_hat = interpolate(real, fake, seeded(7))
    norms = []
    for x in x_hat:
        x = x.unsqueeze(0).requires_grad_(True)
        (g,) = torch.autograd.grad(critic(x).sum(), x)
        norms.append(g.norm())
    expected = 10 * ((torch.stack(norms) - 1) ** 2).mean()
    assert gradient_penalty(critic, real, fake, generator=seeded(7)).item() == pytest.approx(expected.item(), rel=1e-12)
    assert torch.allclose(critic_gradient_norms(critic, x_hat), torch.stack(norms), rtol=1e-12)


def test_gradient_penalty_trains_the_critic_but_not_the_generator():
    # d/dw λ(‖w‖ − 1)² = 2λ(‖w‖ − 1)·w/‖w‖ must reach the critic through create_graph=True.
    w = torch.randn(12, generator=seeded(5), dtype=torch.float64)
    w = 2.0 * w / w.norm()
    critic = linear_critic(w)
    generator = nn.Linear(4, 12).double()
    real, _ = image_batches()
    fake = generator(torch.randn(8, 4, generator=seeded(6), dtype=torch.float64)).reshape(real.shape)
    gradient_penalty(critic, real, fake, weight=10.0).backward()
    expected = 2 * 10.0 * (2.0 - 1) * w / w.norm()
    assert torch.allclose(critic[1].weight.grad.flatten(), expected, rtol=1e-10)
    assert generator.weight.grad is None


def test_gradient_penalty_passes_labels_to_a_conditional_critic():
    embed = torch.tensor([[3.0, 4.0], [0.6, 0.8]], dtype=torch.float64)  # norms 5 and 1

    def critic(x, labels):
        return (x * embed[labels]).sum(dim=1)  # ∇ₓD = embed[label]

    real, fake = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    labels = torch.tensor([0, 1, 1, 1])
    gp = gradient_penalty(critic, real, fake, weight=2.0, critic_kwargs={"labels": labels})
    assert gp.item() == pytest.approx(2.0 * (16 + 0 + 0 + 0) / 4)


def test_interpolates_lie_on_the_segment_with_one_epsilon_per_sample():
    real, fake = image_batches()
    x_hat = interpolate(real, fake, seeded(9))
    eps = ((x_hat - fake) / (real - fake)).flatten(1)
    assert torch.allclose(eps, eps[:, :1].expand_as(eps), rtol=1e-9)
    assert ((eps >= 0) & (eps <= 1)).all() and eps[:, 0].std() > 0
    assert torch.equal(x_hat, interpolate(real, fake, seeded(9)))  # reproducible
    assert not torch.equal(x_hat, interpolate(real, fake, seeded(10)))


def test_shape_mismatch_and_negative_weight_are_user_errors():
    real = torch.zeros(4, 3, 2, 2)
    with pytest.raises(GankitError, match=r"\(4, 3, 2, 2\) and \(4, 3, 2, 3\)"):
        gradient_penalty(nn.Flatten(), real, torch.zeros(4, 3, 2, 3))
    with pytest.raises(GankitError, match="weight"):
        gradient_penalty(nn.Flatten(), real, real, weight=-1.0)


# --- weight clipping -------------------------------------------------------------------------------------


def test_clipping_bounds_every_parameter_and_keeps_in_range_values():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    with torch.no_grad():
        for p in critic.parameters():
            p.copy_(0.05 * torch.randn_like(p))
    before = [p.detach().clone() for p in critic.parameters()]
    c = 0.03
    assert clip_weights_(critic, c) is critic
    for old, new in zip(before, critic.parameters()):
        assert new.abs().max().item() <= c
        inside = old.abs() <= c
        assert torch.equal(new[inside], old[inside])
        assert torch.equal(new[~inside], c * old[~inside].sign())
    assert critic[1].weight.abs().max().item() <= c  # batch-norm scales are clipped too (reference WGAN)


def test_clipping_bound_must_be_positive():
    with pytest.raises(GankitError, match="c must be > 0"):
        clip_weights_(nn.Linear(2, 2), 0.0)


# --- spectral norm ---------------------------------------------------------------------------------------


def test_spectral_norm_drives_the_largest_singular_value_to_one():
    torch.manual_seed(0)
    layer = nn.Linear(20, 10)
    with torch.no_grad():
        layer.weight.mul_(5)
    assert torch.linalg.matrix_norm(layer.weight.detach(), ord=2).item() > 1.5
    apply_spectral_norm(layer).train()
    x = torch.randn(4, 20)
    for _ in range(30):  # one power iteration per training-mode forward
        layer(x)
    assert torch.linalg.matrix_norm(layer.weight.detach(), ord=2).item() == pytest.approx(1.0, abs=1e-3)


def test_spectral_norm_wraps_linear_and_conv_layers_once():
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ConvTranspose2d(4, 2, 3), nn.Flatten(), nn.Linear(32, 1)
    )
    assert apply_spectral_norm(apply_spectral_norm(net)) is net
    for layer in (net[0], net[2], net[4]):
        assert parametrize.is_parametrized(layer, "weight")
        assert len(layer.parametrizations.weight) == 1
    assert not parametrize.is_parametrized(net[1])
    assert net(torch.randn(2, 3, 4, 4)).shape == (2, 1)


# --- instance noise --------------------------------------------------------------------------------------


def test_instance_noise_schedule_anneals_linearly_to_zero():
    assert [instance_noise_std(s, 0.1, 100) for s in (0, 25, 50, 100, 150)] == pytest.approx(
        [0.1, 0.075, 0.05, 0.0, 0.0]
    )
    for bad in ({"step": -1}, {"initial_std": -0.1}, {"anneal_steps": 0}):
        args = {"step": 0, "initial_std": 0.1, "anneal_steps": 100} | bad
        with pytest.raises(GankitError, match=next(iter(bad))):
            instance_noise_std(**args)


def test_instance_noise_has_the_requested_std_and_zero_is_identity():
    x = torch.ones(200_000)
    assert add_instance_noise(x, 0.0) is x
    noisy = add_instance_noise(x, 0.5, seeded(0))
    assert (noisy - x).mean().item() == pytest.approx(0.0, abs=5e-3)
    assert (noisy - x).std().item() == pytest.approx(0.5, rel=1e-2)
    assert torch.equal(noisy, add_instance_noise(x, 0.5, seeded(0)))
    with pytest.raises(GankitError, match="std"):
        add_instance_noise(x, -1.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_penalty_and_noise_run_on_cuda_with_a_cpu_generator():
    w = torch.randn(12, dtype=torch.float64)
    critic = linear_critic(2 * w / w.norm()).cuda()
    real, fake = (b.cuda() for b in image_batches())
    assert gradient_penalty(critic, real, fake, generator=seeded()).item() == pytest.approx(10.0)
    assert add_instance_noise(real, 0.1, seeded()).device == real.device
