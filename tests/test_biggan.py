"""BigGAN's pieces: orthogonal regulariser, class-conditional BN, hierarchical latents, the biggan nets and recipe."""

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.nets import build_networks
from gankit.nets.biggan import BigGANGenerator, ConditionalBatchNorm2d, latent_chunks, split_latent
from gankit.nets.sagan import SelfAttention
from gankit.penalties import filter_matrices, orthogonal_regularization
from gankit.recipes import resolve_config


def tiny(**changes):
    return ModelConfig(**{"arch": "biggan", "z_dim": 9, "g_hidden": 4, "d_hidden": 4, "conditional": True, **changes})


# --- orthogonal regularisation ------------------------------------------------------------------------


def linear_with(weight: torch.Tensor) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    with torch.no_grad():
        layer.weight.copy_(weight)
    return layer


def test_orthogonal_regulariser_is_zero_for_orthogonal_rows_of_any_norm():
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=torch.Generator().manual_seed(0)))
    rows = q[:4] * torch.tensor([[1.0], [2.0], [0.5], [3.0]])  # orthogonal, not orthonormal: the diagonal is free
    assert orthogonal_regularization(linear_with(rows), beta=1.0).item() == pytest.approx(0.0, abs=1e-10)


def test_orthogonal_regulariser_equals_its_formula_on_known_weights():
    w = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 2.0]])
    # W Wᵀ = [[2, 1, 2], [1, 1, 0], [2, 0, 4]]: off-diagonal squares 2·(1 + 4 + 0) = 10
    assert orthogonal_regularization(linear_with(w), beta=1e-4).item() == pytest.approx(1e-3)
    x = torch.randn(5, 7, generator=torch.Generator().manual_seed(1))
    gram = x @ x.T
    expected = 0.5 * ((gram * (1 - torch.eye(5))) ** 2).sum()
    assert orthogonal_regularization(linear_with(x), beta=0.5).item() == pytest.approx(expected.item(), rel=1e-5)


def test_orthogonal_regulariser_sums_layers_and_reads_convs_by_output_filter():
    conv = nn.Conv2d(2, 3, 2, bias=False)
    transposed = nn.ConvTranspose2d(3, 2, 2, bias=False)
    net = nn.Sequential(conv, nn.ReLU(), transposed, nn.BatchNorm2d(2), nn.Embedding(4, 3))
    matrices = filter_matrices(net)
    assert [tuple(m.shape) for m in matrices] == [(3, 8), (2, 12)]  # BN and the embedding are not regularised
    assert torch.equal(matrices[1][1], transposed.weight[:, 1].reshape(-1))
    expected = orthogonal_regularization(conv) + orthogonal_regularization(transposed)
    assert orthogonal_regularization(net).item() == pytest.approx(expected.item())
    assert orthogonal_regularization(net).item() > 0


def test_orthogonal_regulariser_acts_on_the_trained_weight_under_spectral_norm_and_has_gradients():
    layer = nn.utils.parametrizations.spectral_norm(linear_with(torch.tensor([[1.0, 1.0], [1.0, 0.0]])))
    value = orthogonal_regularization(layer, beta=1.0)
    assert value.item() == pytest.approx(2.0)  # off-diagonal of [[2, 1], [1, 1]], σ not applied
    value.backward()
    assert layer.parametrizations.weight.original.grad.abs().sum() > 0


def test_orthogonal_regulariser_refuses_bad_input():
    with pytest.raises(GankitError, match="must be >= 0"):
        orthogonal_regularization(nn.Linear(2, 2), beta=-1.0)
    with pytest.raises(GankitError, match="no linear or convolutional"):
        orthogonal_regularization(nn.BatchNorm2d(2))


# --- class-conditional batch norm and hierarchical latents ----------------------------------------------


def test_conditional_batchnorm_applies_its_formula():
    torch.manual_seed(0)
    norm = ConditionalBatchNorm2d(3, 4)
    x, c = torch.randn(6, 3, 5, 5), torch.randn(6, 4)
    normalised = (x - x.mean((0, 2, 3), keepdim=True)) / torch.sqrt(x.var((0, 2, 3), unbiased=False, keepdim=True) + 1e-5)
    expected = normalised * (1 + c @ norm.gain.weight.T)[:, :, None, None] + (c @ norm.bias.weight.T)[:, :, None, None]
    torch.testing.assert_close(norm(x, c), expected, rtol=1e-4, atol=1e-5)


def test_generator_uses_each_class_own_embedding_in_every_block():
    torch.manual_seed(0)
    G = BigGANGenerator(9, 1, 28, hidden=4, num_classes=10).eval()  # eval: BN statistics fixed, samples independent
    z, labels = torch.randn(4, 9), torch.tensor([0, 1, 2, 3])
    before = G(z, labels)
    with torch.no_grad():
        G.embed.weight[5:] += 1.0  # classes no sample uses
    torch.testing.assert_close(G(z, labels), before)
    with torch.no_grad():
        G.embed.weight[1] += 1.0  # sample 1's class only
    after = G(z, labels)
    changed = (after - before).flatten(1).abs().amax(1)
    assert changed[1] > 1e-4 and torch.all(changed[[0, 2, 3]] == 0)
    # One table shared by the blocks: every block's CBN reads [z chunk, e(y)] through the same embedding.
    assert sum(isinstance(m, nn.Embedding) for m in G.modules()) == 1
    assert [b.norm1.gain.in_features for b in G.blocks] == [3 + 10, 3 + 10]


def test_latents_are_split_in_one_chunk_per_block_plus_the_input():
    assert latent_chunks(120, 3) == [40, 40, 40] and latent_chunks(10, 3) == [4, 3, 3]
    z = torch.arange(10.0)[None]
    assert [c.tolist() for c in split_latent(z, [4, 3, 3])] == [[[0, 1, 2, 3]], [[4, 5, 6]], [[7, 8, 9]]]
    with pytest.raises(GankitError, match="model.z_dim"):
        latent_chunks(2, 3)


def test_each_latent_chunk_reaches_the_image():
    torch.manual_seed(0)
    G = BigGANGenerator(9, 1, 28, hidden=4, num_classes=0).eval()
    z = torch.randn(2, 9)
    base = G(z)
    for start, stop in [(0, 3), (3, 6), (6, 9)]:  # the linear input, block 1, block 2
        moved = z.clone()
        moved[:, start:stop] += 1.0
        assert (G(moved) - base).abs().max() > 1e-4


# --- the biggan nets and recipe -----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [28, 32, 64])
def test_biggan_nets_at_every_size(size):
    torch.manual_seed(0)
    G, D = build_networks(tiny(), (3, size, size), 10)
    labels = torch.arange(2)
    x = G(torch.randn(2, 9), labels)
    assert x.shape == (2, 3, size, size) and x.abs().max() <= 1
    assert D(x, labels).shape == (2,)
    for net in (G, D):
        assert sum(isinstance(m, SelfAttention) for m in net.modules()) == 1
        layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    assert D.projection


def test_biggan_refuses_unsupported_sizes():
    with pytest.raises(GankitError, match="biggan nets support image sizes"):
        build_networks(tiny(), (1, 48, 48), 10)


def test_biggan_recipe_has_the_papers_settings():
    config = resolve_config("biggan", "fashion-mnist", "image")
    assert (config.model.arch, config.loss.name, config.loss.ortho_weight) == ("biggan", "hinge", 1e-4)
    assert config.model.conditional and config.model.projection and config.train.ema > 0
    assert (config.optim.beta1, config.optim.beta2) == (0.0, 0.999)
    assert config.optim.lr_d == 4 * config.optim.lr_g  # TTUR
