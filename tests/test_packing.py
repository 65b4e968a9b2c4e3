"""Packing (PacGAN) and PacGAN's toy nets: the formula, and exactness inside seed ensembles."""

import pytest
import torch

from gankit.errors import GankitError
from gankit.nets import build_networks
from gankit.nets.ensemble import EnsembleDiscriminator, EnsembleGenerator
from gankit.nets.packing import PackedDiscriminator, pack_examples
from gankit.nets.pacgan import Maxout, PacGANDiscriminator, PacGANGenerator
from gankit.recipes import resolve_config


def test_packing_joins_consecutive_examples_along_features_and_channels():
    x = torch.arange(12.0).reshape(6, 2)
    assert torch.equal(pack_examples(x, 3), torch.tensor([[0.0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]))
    images = torch.randn(4, 3, 5, 5)
    packed = pack_examples(images, 2)
    assert packed.shape == (2, 6, 5, 5)
    assert torch.equal(packed[1, 3:], images[3])  # pack 1 = examples 2 and 3, channels stacked
    with pytest.raises(GankitError, match="multiple of 2"):
        pack_examples(torch.randn(5, 2), 2)


def test_a_packed_d_scores_the_concatenation_of_its_pack():
    inner = torch.nn.Linear(4, 1)
    packed = PackedDiscriminator(torch.nn.Sequential(inner, torch.nn.Flatten(0)), 2)
    x = torch.randn(6, 2)
    expected = inner(torch.cat([x[0::2], x[1::2]], dim=1)).flatten()
    assert torch.allclose(packed(x), expected)


def test_model_pack_builds_d_for_packs_and_refuses_conditional_d():
    config = resolve_config("pacgan", "ring8", "vector", {"model.pack": 3, "data.batch_size": 300})
    generator, critic = build_networks(config.model, (2,))
    assert isinstance(critic, PackedDiscriminator) and critic.pack == 3
    assert critic.inner.net[0].in_features == 6
    assert critic(generator(torch.randn(30, 2))).shape == (10,)
    image = resolve_config("pacgan", "mnist", "image", {"model.pack": 2})
    _, critic = build_networks(image.model, (1, 28, 28))
    assert critic(torch.randn(4, 1, 28, 28)).shape == (2,)
    with pytest.raises(GankitError, match="packs"):
        resolve_config("pacgan", "ring8", "vector", {"model.pack": 3, "data.batch_size": 100})
    conditional = resolve_config("cgan", "mnist", "image", {"model.pack": 2})
    with pytest.raises(GankitError, match="model.pack"):
        build_networks(conditional.model, (1, 28, 28), 10)


def test_pacgan_nets_follow_the_papers_code():
    torch.manual_seed(0)
    generator, critic = PacGANGenerator(2, 2), PacGANDiscriminator(4)
    hidden = [m for m in generator.net if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in hidden] == [400, 400, 400, 400, 2]
    assert all(m.bias is None for m in hidden[:-1]) and hidden[-1].bias is not None  # batch norm's shift instead
    assert abs(hidden[1].weight.std().item() - 0.02) < 0.002
    assert [m.out_features for m in critic.net if isinstance(m, torch.nn.Linear)] == [1000, 1000, 1000, 1]
    x = torch.tensor([[1.0, 5.0, 2.0, 0.0, -1.0, 3.0, 3.0, 2.0, 9.0, 1.0]])
    assert torch.equal(Maxout(5)(x), torch.tensor([[5.0, 9.0]]))


def test_an_ensemble_of_batch_norm_nets_is_exact_for_each_member():
    torch.manual_seed(0)
    gens = [PacGANGenerator(2, 2, hidden=8, layers=2) for _ in range(3)]
    critics = [PacGANDiscriminator(4, hidden=6, layers=2) for _ in range(3)]
    ens_g, ens_d = EnsembleGenerator(gens), PackedDiscriminator(EnsembleDiscriminator(critics), 2)
    z = torch.randn(3 * 8, 2)
    fake = ens_g(z)
    ens_d(fake).mean().backward()
    for s in range(3):
        rows = slice(8 * s, 8 * (s + 1))
        member_fake = gens[s](z[rows])
        assert torch.allclose(member_fake, fake[rows], atol=1e-5)
        critics[s](pack_examples(member_fake, 2)).mean().backward()
        assert torch.allclose(gens[s].net[0].weight.grad, ens_g.net[0].weight.grad[s], atol=1e-5)
        assert torch.allclose(critics[s].net[0].weight.grad, ens_d.inner.net[0].weight.grad[s], atol=1e-5)
    # Running statistics too: after unstacking, each member samples in eval mode as the ensemble does.
    ens_g.eval()
    fresh = ens_g.unstack_into([PacGANGenerator(2, 2, hidden=8, layers=2) for _ in range(3)])
    fresh[1].eval()
    assert torch.allclose(fresh[1](z[8:16]), ens_g(z)[8:16], atol=1e-5)
