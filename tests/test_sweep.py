import torch

from gankit.nets.ensemble import EnsembleDiscriminator, EnsembleGenerator
from gankit.nets.mlp import MLPDiscriminator, MLPGenerator
from gankit.penalties import gradient_penalty
from gankit.sweep import mean_and_standard_error, parse_seeds, run_sweep


def _members(n):
    torch.manual_seed(0)
    return [MLPGenerator(4, 2, 8, 2) for _ in range(n)], [MLPDiscriminator(2, 8, 2) for _ in range(n)]


def test_ensemble_gradients_equal_each_members_own_gradients():
    gens, critics = _members(3)
    ens_g, ens_d = EnsembleGenerator(gens), EnsembleDiscriminator(critics)
    z, real = torch.randn(3 * 5, 4), torch.randn(3 * 5, 2)
    fake = ens_g(z)
    loss = ens_d(fake).mean() - ens_d(real).mean() + gradient_penalty(ens_d, real, fake.detach())
    loss.backward()
    for s, (g, d) in enumerate(zip(gens, critics)):
        rows = slice(5 * s, 5 * (s + 1))
        member_fake = g(z[rows])
        assert torch.allclose(member_fake, fake[rows], atol=1e-6)
        member_loss = d(member_fake).mean() - d(real[rows]).mean()
        torch.manual_seed(1)
        member_loss.backward()
        assert torch.allclose(g.net[0].weight.grad, ens_g.net[0].weight.grad[s], atol=1e-5)
    # Penalty gradients separate too: compare one critic with its own penalty on its own rows.
    ens_d.zero_grad()
    torch.manual_seed(7)
    gradient_penalty(ens_d, real, fake.detach()).backward()
    torch.manual_seed(7)
    eps = torch.rand(15, 1)
    for s, d in enumerate(critics):
        d.zero_grad()
        rows = slice(5 * s, 5 * (s + 1))
        mixed = (eps[rows] * real[rows] + (1 - eps[rows]) * fake.detach()[rows]).requires_grad_(True)
        (grad,) = torch.autograd.grad(d(mixed).sum(), mixed, create_graph=True)
        (10 * ((grad.norm(dim=1) - 1) ** 2).mean()).backward()
        assert torch.allclose(d.net[0].weight.grad, ens_d.net[0].weight.grad[s], atol=1e-5)


def test_unstack_returns_the_members():
    gens, _ = _members(2)
    ens = EnsembleGenerator(gens)
    fresh = ens.unstack_into(_members(2)[0][::-1])
    z = torch.randn(4, 4)
    assert torch.allclose(fresh[1](z[2:]), ens(z)[2:], atol=1e-6)


def test_seed_parsing_and_summary():
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    summary = mean_and_standard_error([1.0, 3.0])
    assert summary["mean"] == 2.0 and abs(summary["se"] - 1.0) < 1e-12


def test_sweep_writes_one_run_per_seed(tmp_path, tiny_overrides):
    result = run_sweep("wgan-gp", "ring8", [0, 1, 2], tmp_path / "sweep", tiny_overrides, progress=False)
    assert [row["seed"] for row in result.per_seed] == [0, 1, 2]
    assert set(result.summary) >= {"modes", "hq_fraction", "w1"}
    for seed in (0, 1, 2):
        assert (tmp_path / "sweep" / f"seed-{seed}" / "generator.safetensors").is_file()
    assert (tmp_path / "sweep" / "sweep.json").is_file()
