"""Losses equal their formulas on hand-computed values, stay finite at extreme logits, and the f-GAN
divergences satisfy the Fenchel identities of Nowozin et al. (2016)."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy

from gankit import losses as L
from gankit.divergences import F_DIVERGENCES, fgan_discriminator_loss, fgan_generator_loss, get_divergence
from gankit.errors import GankitError

LOG3 = math.log(3.0)


def t(*values: float, dtype=torch.float64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


# --- hand-computed values: logits [0, log 3] -> D = [0.5, 0.75]; logits [0, -log 3] -> D = [0.5, 0.25] --


def test_minimax_discriminator_loss_matches_formula():
    real, fake = t(0.0, LOG3), t(0.0, -LOG3)  # D(x) = [.5, .75], D(G(z)) = [.5, .25]
    expected = -(math.log(0.5) + math.log(0.75)) / 2 - (math.log(0.5) + math.log(0.75)) / 2
    assert L.minimax_discriminator_loss(real, fake).item() == pytest.approx(expected, rel=1e-12)


def test_minimax_generator_loss_matches_formula():
    fake = t(0.0, LOG3)  # D(G(z)) = [.5, .75] -> E[log(1 - D)] = (log .5 + log .25) / 2
    assert L.minimax_generator_loss(fake).item() == pytest.approx((math.log(0.5) + math.log(0.25)) / 2, rel=1e-12)


def test_modified_generator_loss_matches_formula():
    fake = t(0.0, LOG3)
    assert L.modified_generator_loss(fake).item() == pytest.approx(-(math.log(0.5) + math.log(0.75)) / 2, rel=1e-12)


def test_least_squares_losses_match_formula():
    real, fake = t(1.5, -0.5), t(0.2, 0.8)
    expected = 0.5 * (0.25 + 2.25) / 2 + 0.5 * (0.04 + 0.64) / 2  # a=0, b=1
    assert L.least_squares_discriminator_loss(real, fake).item() == pytest.approx(expected, rel=1e-12)
    expected = 0.5 * (0.25 + 2.25) / 2 + 0.5 * (1.44 + 3.24) / 2  # a=-1, b=1
    assert L.least_squares_discriminator_loss(real, fake, a=-1.0, b=1.0).item() == pytest.approx(expected, rel=1e-12)
    assert L.least_squares_generator_loss(fake).item() == pytest.approx(0.5 * (0.64 + 0.04) / 2, rel=1e-12)
    assert L.least_squares_generator_loss(fake, c=0.0).item() == pytest.approx(0.5 * (0.04 + 0.64) / 2, rel=1e-12)


def test_hinge_losses_match_formula():
    real, fake = t(2.0, 0.5, -1.0), t(-2.0, 0.0, 0.5)
    # relu(1 - real) = [0, .5, 2], relu(1 + fake) = [0, 1, 1.5]
    assert L.hinge_discriminator_loss(real, fake).item() == pytest.approx(2.5 / 3 + 2.5 / 3, rel=1e-12)
    assert L.hinge_generator_loss(fake).item() == pytest.approx(0.5, rel=1e-12)


def test_wasserstein_losses_match_formula():
    real, fake = t(3.0, 1.0), t(-1.0, 0.0, 2.0)  # different batch sizes are fine
    assert L.wasserstein_critic_loss(real, fake).item() == pytest.approx(1 / 3 - 2.0, rel=1e-12)
    assert L.wasserstein_generator_loss(fake).item() == pytest.approx(-1 / 3, rel=1e-12)


def test_losses_reduce_patch_maps_by_mean_over_everything():
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(4, 1, 3, 3, generator=gen), torch.randn(4, 1, 3, 3, generator=gen)
    for name in L.loss_names():
        loss = L.get_loss(name)
        assert loss.discriminator(real, fake).shape == ()
        assert loss.discriminator(real, fake).item() == pytest.approx(
            loss.discriminator(real.flatten(), fake.flatten()).item(), rel=1e-6
        )
        assert loss.generator(fake).item() == pytest.approx(loss.generator(fake.reshape(-1, 1)).item(), rel=1e-6)


# --- numerical stability -------------------------------------------------------------------------------


def test_minimax_family_is_finite_with_correct_asymptotes_at_extreme_logits():
    big, small = torch.full((3,), 100.0), torch.full((3,), -100.0)
    assert L.minimax_discriminator_loss(big, small).item() == pytest.approx(0.0, abs=1e-30)  # perfect D
    assert L.minimax_discriminator_loss(small, big).item() == pytest.approx(200.0)  # worst D
    assert L.minimax_generator_loss(small).item() == pytest.approx(0.0, abs=1e-30)  # log(1 - 0)
    assert L.minimax_generator_loss(big).item() == pytest.approx(-100.0)  # log(1 - σ(100)) = -100
    assert L.modified_generator_loss(big).item() == pytest.approx(0.0, abs=1e-30)
    assert L.modified_generator_loss(small).item() == pytest.approx(100.0)


def test_saturating_vs_non_saturating_gradients_when_discriminator_rejects_fakes():
    # The reason for the non-saturating loss (Goodfellow 2014, Sec. 3): at D(G(z)) ≈ 0 the minimax
    # generator gradient vanishes while −log D(G(z)) still has slope −1 per sample.
    fake = torch.full((2,), -100.0, requires_grad=True)
    (g_minimax,) = torch.autograd.grad(L.minimax_generator_loss(fake), fake)
    (g_modified,) = torch.autograd.grad(L.modified_generator_loss(fake), fake)
    assert torch.isfinite(g_minimax).all() and torch.isfinite(g_modified).all()
    assert g_minimax.abs().max().item() < 1e-40
    assert torch.allclose(g_modified, torch.full((2,), -0.5))


# --- registry ------------------------------------------------------------------------------------------


def test_registry_lists_every_required_loss():
    required = {"minimax", "nsgan", "lsgan", "hinge", "wgan"} | {
        f"fgan-{k}" for k in ("kl", "rkl", "chi2", "hellinger", "js", "gan")
    }
    assert set(L.loss_names()) == required
    for name in L.loss_names():
        loss = L.get_loss(name)
        assert loss.name == name and loss.description


def test_registry_wires_the_right_functions():
    real, fake = t(0.3, -1.2, 2.0), t(-0.7, 0.1, 1.5)
    nsgan = L.get_loss("nsgan")
    assert nsgan.discriminator(real, fake) == L.minimax_discriminator_loss(real, fake)
    assert nsgan.generator(fake) == L.modified_generator_loss(fake)
    assert L.get_loss("minimax").generator(fake) == L.minimax_generator_loss(fake)
    assert L.get_loss("hinge").discriminator(real, fake) == L.hinge_discriminator_loss(real, fake)
    assert L.get_loss("wgan").generator(fake) == L.wasserstein_generator_loss(fake)
    lsgan = L.get_loss("lsgan", lsgan_a=-1.0, lsgan_b=1.0, lsgan_c=0.0)
    assert lsgan.discriminator(real, fake) == L.least_squares_discriminator_loss(real, fake, a=-1.0, b=1.0)
    assert lsgan.generator(fake) == L.least_squares_generator_loss(fake, c=0.0)
    # LSGAN params are accepted and ignored by other losses.
    assert L.get_loss("hinge", lsgan_a=-1.0).generator(fake) == L.hinge_generator_loss(fake)


def test_registry_errors_name_the_culprit_and_suggest_the_close_one():
    with pytest.raises(GankitError, match=r"unknown loss 'hinj'.*'hinge'"):
        L.get_loss("hinj")
    with pytest.raises(GankitError, match=r"'fgan-kll'.*'fgan-kl'"):
        L.get_loss("fgan-kll")
    with pytest.raises(GankitError, match=r"unknown loss parameter 'lsgan_d'.*'lsgan_"):
        L.get_loss("lsgan", lsgan_d=1.0)
    with pytest.raises(GankitError, match="lsgan_a"):
        L.get_loss("lsgan", lsgan_a="zero")
    with pytest.raises(GankitError, match="fgan_saturating"):
        L.get_loss("fgan-kl", fgan_saturating=1)
    with pytest.raises(GankitError, match=r"unknown f-divergence 'kll'.*'kl'"):
        get_divergence("kll")


def test_gan_loss_is_frozen():
    with pytest.raises(AttributeError):
        L.get_loss("wgan").name = "other"  # type: ignore[misc]


# --- f-GAN divergences (Nowozin, Cseke & Tomioka 2016) ---------------------------------------------------

DIVERGENCES = list(F_DIVERGENCES.values())
P = t(1, 2, 3, 4) / 10
Q = t(4, 3, 2, 1) / 10


@pytest.mark.parametrize("d", DIVERGENCES, ids=lambda d: d.name)
def test_activated_conjugate_is_finite_over_a_wide_range(d):
    # float32. Some terms grow exponentially by nature and are finite only for |v| < ~88: f*(g_f(v)) =
    # exp(v − 1) for KL and e^v − 1 for Hellinger, g_f(v) = −e^{−v} for reverse KL.
    v = torch.linspace(-80, 80, 2001, requires_grad=True)
    values = d.activated_conjugate(v)
    loss = fgan_discriminator_loss(v, v, d) + fgan_generator_loss(v, d) + fgan_generator_loss(v, d, True)
    (grad,) = torch.autograd.grad(loss, v)
    assert torch.isfinite(values).all() and torch.isfinite(d.activation(v)).all() and torch.isfinite(grad).all()
    if d.name not in ("kl", "rkl", "hellinger"):
        wide = torch.linspace(-1e4, 1e4, 2001)
        assert torch.isfinite(d.activated_conjugate(wide)).all() and torch.isfinite(d.activation(wide)).all()


@pytest.mark.parametrize("d", DIVERGENCES, ids=lambda d: d.name)
def test_stable_forms_agree_with_the_table_formulas(d):
    v = torch.linspace(-5, 5, 101, dtype=torch.float64)
    g = d.activation(v)
    assert (g < d.domain_upper).all()  # g_f maps into dom f*
    assert torch.allclose(d.activated_conjugate(v), d.conjugate(g), rtol=1e-10, atol=1e-12)
    assert torch.allclose(d.activation_inverse(g), v, rtol=1e-8, atol=1e-10)
    if math.isfinite(d.domain_upper):
        assert torch.isinf(d.conjugate(t(d.domain_upper + 0.5))).all()


@pytest.mark.parametrize("d", DIVERGENCES, ids=lambda d: d.name)
def test_f_is_convex_with_f_of_one_zero_and_conjugate_is_its_fenchel_dual(d):
    # f(1) = 0 makes D_f(P‖P) = 0; Table 2's GAN row is shifted: D_GAN = 2·JSD − log 4.
    expected_at_one = -math.log(4) if d.name == "gan" else 0.0
    assert d.f(t(1.0)).item() == pytest.approx(expected_at_one, abs=1e-15)
    u = torch.logspace(-3, 2, 4001, dtype=torch.float64)
    fu = d.f(u)
    slopes = (fu[1:] - fu[:-1]) / (u[1:] - u[:-1])
    assert (slopes[1:] >= slopes[:-1] - 1e-9).all()  # convex
    # f*(t) = sup_u (t·u − f(u)), checked by brute force at slopes t = f'(u0) whose maximiser u0 is in range.
    ts = d.derivative(t(0.2, 0.5, 1.0, 2.0, 5.0))
    brute = (ts[:, None] * u[None, :] - fu[None, :]).max(dim=1).values
    assert torch.allclose(d.conjugate(ts), brute, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("d", DIVERGENCES, ids=lambda d: d.name)
def test_variational_bound_is_tight_at_the_optimal_critic(d):
    ratio = P / Q
    t_star = d.derivative(ratio)
    bound = (P * t_star).sum() - (Q * d.conjugate(t_star)).sum()
    assert bound.item() == pytest.approx(d.between(P, Q).item(), rel=1e-10, abs=1e-12)

    # Same through the loss: samples of P and Q as repeated support points (P = 1,2,3,4 / 10; Q = 4,3,2,1 / 10).
    real_idx = torch.repeat_interleave(torch.arange(4), torch.tensor([1, 2, 3, 4]))
    fake_idx = torch.repeat_interleave(torch.arange(4), torch.tensor([4, 3, 2, 1]))
    v_star = d.optimal_critic(ratio)
    estimate = -fgan_discriminator_loss(v_star[real_idx], v_star[fake_idx], d)
    assert estimate.item() == pytest.approx(d.between(P, Q).item(), rel=1e-10, abs=1e-12)

    # Any other critic gives a strictly lower bound.
    noise = torch.randn(4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    worse = v_star + 0.1 * noise
    assert -fgan_discriminator_loss(worse[real_idx], worse[fake_idx], d).item() < estimate.item() - 1e-6


def test_divergence_values_match_closed_forms():
    p, q = P.numpy(), Q.numpy()
    jsd = jensenshannon(p, q) ** 2  # natural log: JSD = ½ KL(P‖M) + ½ KL(Q‖M)
    expected = {
        "kl": entropy(p, q),
        "rkl": entropy(q, p),
        "chi2": ((p - q) ** 2 / q).sum(),
        "hellinger": ((p**0.5 - q**0.5) ** 2).sum(),
        "js": 2 * jsd,
        "gan": 2 * jsd - math.log(4),
    }
    for name, value in expected.items():
        assert F_DIVERGENCES[name].between(P, Q).item() == pytest.approx(value, rel=1e-10), name
        assert F_DIVERGENCES[name].between(P, P).item() == pytest.approx(0.0 if name != "gan" else -math.log(4))


def test_between_rejects_bad_distributions():
    with pytest.raises(GankitError, match="same shape"):
        F_DIVERGENCES["kl"].between(P, Q[:3])
    with pytest.raises(GankitError, match="strictly positive"):
        F_DIVERGENCES["kl"].between(P, t(0.5, 0.5, 0.0, 0.0))


def test_gan_divergence_reproduces_goodfellow_losses():
    real, fake = t(0.3, -1.2, 2.0, 40.0), t(-0.7, 0.1, 1.5, -40.0)
    gan = L.get_loss("fgan-gan")
    assert gan.discriminator(real, fake).item() == pytest.approx(L.minimax_discriminator_loss(real, fake).item())
    assert gan.generator(fake).item() == pytest.approx(L.modified_generator_loss(fake).item())
    saturating = L.get_loss("fgan-gan", fgan_saturating=True)
    assert saturating.generator(fake).item() == pytest.approx(L.minimax_generator_loss(fake).item())


def test_fgan_generator_loss_formulas():
    v = t(-1.0, 0.5, 2.0)
    kl = F_DIVERGENCES["kl"]
    assert fgan_generator_loss(v, kl).item() == pytest.approx(-v.mean().item())  # −E[g_f(V)], g_f = id
    assert fgan_generator_loss(v, "kl", saturating=True).item() == pytest.approx(-torch.exp(v - 1).mean().item())
    assert fgan_discriminator_loss(v, v, "rkl").item() == pytest.approx(
        (torch.exp(-v).mean() + (v - 1).mean()).item()
    )
