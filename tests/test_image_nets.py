"""Image nets: DCGAN (with and without BN, conditional by concatenation or projection), InfoGAN, SAGAN."""

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.nets import build_networks
from gankit.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.nets.infogan import LatentCodes
from gankit.nets.sagan import SelfAttention


def tiny(arch="dcgan", **changes):
    settings = dict(arch=arch, z_dim=8, g_hidden=4, d_hidden=4, g_batchnorm=True)
    settings.update(changes)
    return ModelConfig(**settings)


@pytest.mark.parametrize("arch", ["dcgan", "infogan", "sagan"])
@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_output_shapes_at_every_size(arch, size, channels):
    torch.manual_seed(0)
    G, D = build_networks(tiny(arch), (channels, size, size), 0)
    x = G(torch.randn(5, G.z_dim))
    assert x.shape == (5, channels, size, size)
    assert x.abs().max() <= 1  # tanh output, the data's range
    assert D(x).shape == (5,)


def test_64px_is_the_seeds_five_layer_design():
    G = DCGANGenerator(100, 3, 64, hidden=64)
    D = DCGANDiscriminator(3, 64, hidden=64, batchnorm=True)
    transposed = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [m.out_channels for m in transposed] == [512, 256, 128, 64, 3]
    convs = [m for m in D.body.modules() if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in convs] == [64, 128, 256, 512]
    # batch norm after every G conv but the last; in D on every layer but the input one
    assert sum(isinstance(m, nn.BatchNorm2d) for m in G.modules()) == 4
    assert sum(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == 3
    assert isinstance(list(G.net)[-1], nn.Tanh)
    assert all(m.negative_slope == 0.2 for m in D.modules() if isinstance(m, nn.LeakyReLU))


def test_dcgan_tf_is_dcgan_tensorflows_28px_net_with_a_uniform_latent():
    """PacGAN's Table 2 nets: FC to 2x2x8h, 5x5 deconvs 4h-2h-h-C; D 5x5 convs h..8h, BN but on the first; z ~ U(-1, 1)."""
    from scipy import stats

    G, D = build_networks(ModelConfig(arch="dcgan-tf", z_dim=100, g_hidden=64, d_hidden=64), (3, 28, 28), 0)
    torch.manual_seed(0)
    x = G(torch.randn(5, 100))
    assert x.shape == (5, 3, 28, 28) and D(x).shape == (5,)
    assert [m.out_channels for m in G.modules() if isinstance(m, nn.ConvTranspose2d)] == [256, 128, 64, 3]
    assert {m.kernel_size for m in [*G.modules(), *D.modules()] if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)} == {(5, 5)}
    assert [m.out_channels for m in D.modules() if isinstance(m, nn.Conv2d)] == [64, 128, 256, 512]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == 3
    assert sum(isinstance(m, nn.BatchNorm2d) for m in G.modules()) == 4
    uniform = G.net[0](torch.randn(20000, generator=torch.Generator().manual_seed(1)))
    assert stats.kstest(uniform.numpy(), stats.uniform(-1, 2).cdf).pvalue > 0.01
    with pytest.raises(GankitError, match="28 px"):
        build_networks(ModelConfig(arch="dcgan-tf"), (3, 32, 32), 0)


def test_batchnorm_switches_drop_every_bn_layer():
    G, D = build_networks(tiny(g_batchnorm=False, d_batchnorm=False), (1, 28, 28), 0)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in [*G.modules(), *D.modules()])
    G, D = build_networks(tiny(g_batchnorm=True, d_batchnorm=True), (1, 28, 28), 0)
    assert any(isinstance(m, nn.BatchNorm2d) for m in G.modules()) and any(isinstance(m, nn.BatchNorm2d) for m in D.modules())


@pytest.mark.parametrize("shape", [(1, 48, 48), (1, 28, 32), (2,)])
def test_unsupported_shapes_name_the_problem(shape):
    with pytest.raises(GankitError, match="image"):
        build_networks(tiny(), shape, 0)


def test_unconditional_unless_asked_even_on_labelled_data():
    G, D = build_networks(tiny(), (1, 28, 28), 10)
    assert G.num_classes == 0 and D.num_classes == 0
    with pytest.raises(GankitError, match="labelled"):
        build_networks(tiny(conditional=True), (1, 28, 28), 0)


@pytest.mark.parametrize("projection", [False, True])
def test_labels_change_both_networks_outputs(projection):
    torch.manual_seed(0)
    G, D = build_networks(tiny(conditional=True, projection=projection), (1, 28, 28), 10)
    G.eval(), D.eval()
    z = torch.randn(1, G.z_dim).repeat(10, 1)  # one z, ten labels
    images = G(z, torch.arange(10))
    assert G.num_classes == D.num_classes == 10
    assert all(not torch.allclose(images[0], images[k]) for k in range(1, 10))
    x = images[:1].repeat(10, 1, 1, 1)  # one image, ten labels
    scores = D(x, torch.arange(10))
    assert scores.unique().numel() == 10
    with pytest.raises(GankitError, match="labels are required"):
        G(z)


def test_projection_discriminator_adds_the_inner_product():
    torch.manual_seed(0)
    D = DCGANDiscriminator(1, 28, hidden=4, num_classes=10, projection=True)
    x, y = torch.randn(3, 1, 28, 28), torch.tensor([1, 5, 7])
    phi = D.features(x).sum(dim=(2, 3))
    expected = D.head(D.features(x)).flatten() + (D.embed(y) * phi).sum(1)
    assert torch.allclose(D(x, y), expected, atol=1e-6)
    assert D.body[0].in_channels == 1  # no label maps on the input with projection


# ---------------------------------------------------------------- InfoGAN


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_infogan_fc_nets_at_every_size(size, channels):
    torch.manual_seed(0)
    G, D = build_networks(tiny("infogan", info_body="fc", d_batchnorm=True), (channels, size, size), 0)
    x = G(torch.randn(5, G.z_dim))
    assert x.shape == (5, channels, size, size) and x.abs().max() <= 1
    logits, means = D.predict_codes(x)
    assert D(x).shape == (5,) and logits.shape == (5, 10) and means.shape == (5, 2)


def test_infogan_fc_nets_are_the_papers_mnist_nets():
    """Chen et al. 2016, Table 1 at h = 64: G FC 1024, FC 7x7x128, upconv 64, upconv 1; D conv 64, conv 128, FC 1024."""
    model = ModelConfig(arch="infogan", z_dim=62, g_hidden=64, d_hidden=64, g_batchnorm=True, d_batchnorm=True, info_body="fc")
    G, D = build_networks(model, (1, 28, 28), 0)

    def widths(module, kind):
        return [m.out_features if kind is nn.Linear else m.out_channels for m in module.modules() if isinstance(m, kind)]

    assert widths(G, nn.Linear) == [1024, 7 * 7 * 128] and widths(G, nn.ConvTranspose2d) == [64, 1]
    assert G.net.net[0].in_features == 62 + 10 + 2  # noise, one-hot category, continuous codes
    assert widths(D.base, nn.Conv2d) == [64, 128] and widths(D.base, nn.Linear) == [1024, 1]
    assert widths(D.q, nn.Linear) == [128, 12] and isinstance(D.q[1], nn.BatchNorm1d)  # FC.128-batchnorm-lRELU-FC
    batchnorms = [m for m in [*G.modules(), *D.base.modules()] if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    assert len(batchnorms) == 3 + 2  # every G layer but the last; D's second conv and its FC
    G, D = build_networks(ModelConfig(**{**model.__dict__, "g_batchnorm": False, "d_batchnorm": False}), (1, 28, 28), 0)
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in [*G.modules(), *D.modules()])


def test_infogan_fc_nets_refuse_sizes_they_cannot_halve_twice():
    with pytest.raises(GankitError, match="divisible by 4"):
        build_networks(tiny("infogan", info_body="fc"), (1, 30, 30), 0)


def test_codes_from_normal_latents_follow_the_papers_prior():
    codes = LatentCodes(noise_dim=3, categories=10, continuous=2)
    z = torch.randn(50_000, codes.z_dim, generator=torch.Generator().manual_seed(0))
    noise, categorical, continuous = codes.split(z)
    assert torch.equal(noise, z[:, :3])
    frequencies = torch.bincount(categorical, minlength=10).float() / len(z)
    assert (frequencies - 0.1).abs().max() < 0.006  # uniform over 10 categories
    assert continuous.min() >= -1 and continuous.max() <= 1
    assert continuous.mean(0).abs().max() < 0.01 and (continuous.var(0) - 1 / 3).abs().max() < 0.01  # U(-1, 1)


def test_with_codes_writes_codes_that_split_reads_back():
    codes = LatentCodes(noise_dim=4, categories=10, continuous=2)
    z = torch.randn(10, codes.z_dim)
    fixed = codes.with_codes(z, categorical=torch.arange(10), continuous=torch.tensor([-0.9, 0.5]))
    noise, categorical, continuous = codes.split(fixed)
    assert torch.equal(noise, z[:, :4]) and torch.equal(categorical, torch.arange(10))
    assert torch.allclose(continuous, torch.tensor([-0.9, 0.5]).expand(10, 2), atol=1e-5)
    with pytest.raises(GankitError, match=r"\[-1, 1\]"):
        codes.with_codes(z, continuous=torch.tensor([2.0, 0.0]))
    with pytest.raises(GankitError, match="categorical"):
        codes.with_codes(z, categorical=10)


@pytest.mark.parametrize("body", ["dcgan", "fc"])
def test_infogan_codes_control_the_output(body):
    torch.manual_seed(0)
    G, D = build_networks(tiny("infogan", info_categorical=10, info_continuous=2, info_body=body), (1, 28, 28), 10)
    G.eval()
    assert G.z_dim == 8 + 1 + 2 and G.num_classes == 0
    z = torch.randn(1, G.z_dim).repeat(10, 1)
    by_category = G(G.codes.with_codes(z, categorical=torch.arange(10)))
    assert all(not torch.allclose(by_category[0], by_category[k]) for k in range(1, 10))
    a = G(G.codes.with_codes(z[:1], continuous=torch.tensor([-1.0, 0.0])))
    b = G(G.codes.with_codes(z[:1], continuous=torch.tensor([1.0, 0.0])))
    assert not torch.allclose(a, b)
    # G reads the category coordinate only through its bin: moving it within the bin changes nothing.
    z2 = G.codes.with_codes(z[:1], categorical=torch.tensor([3]))
    z3 = z2.clone()
    z3[0, 8] += 0.01
    assert torch.equal(G(z2), G(z3))


@pytest.mark.parametrize("body", ["dcgan", "fc"])
def test_infogan_auxiliary_loss_is_the_papers_formula(body):
    torch.manual_seed(0)
    G, D = build_networks(tiny("infogan", info_weight=1.0, info_continuous_weight=0.1, info_body=body), (1, 28, 28), 0)
    z = torch.randn(6, G.z_dim)
    fake = G(z)
    _, categorical, continuous = G.codes.split(z)
    logits, means = D.predict_codes(fake)
    log_q = torch.log_softmax(logits, 1)[torch.arange(6), categorical]
    expected = -log_q.mean() + 0.1 * 0.5 * ((continuous - means) ** 2).sum(1).mean()
    assert torch.allclose(D.auxiliary_loss(z, fake), expected, atol=1e-6)
    # What the training loop calls: scores and the term from one pass through D's body.
    scores, term = D(fake, latent=z)
    assert torch.allclose(scores, D(fake)) and torch.allclose(term, expected, atol=1e-6)


@pytest.mark.parametrize("body", ["dcgan", "fc"])
def test_q_head_learns_codes_that_the_images_show(body):
    """Minimising L_I over Q recovers a code drawn into the image (the bound is usable, not just defined)."""
    torch.manual_seed(0)
    _, D = build_networks(tiny("infogan", info_categorical=4, info_continuous=0, d_hidden=8, info_body=body), (1, 28, 28), 0)
    codes = D.codes
    optimizer = torch.optim.Adam(D.parameters(), lr=3e-3)

    def painted(z):  # a fixed "generator" that shows the category as a bright band of rows
        _, category, _ = codes.split(z)
        band = torch.arange(28) // 7  # rows 0-6 show category 0, 7-13 category 1, ...
        return (band[None, :] == category[:, None]).float()[:, None, :, None].expand(-1, 1, 28, 28) * 2 - 1

    first = None
    for _ in range(40):
        z = torch.randn(16, codes.z_dim)
        loss = D.auxiliary_loss(z, painted(z))
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert first > 1.2 and loss.item() < 0.1  # from ~log 4 to near 0


@pytest.mark.parametrize("q_trains_body", [True, False])
def test_information_term_reaches_the_shared_body_only_when_asked(q_trains_body):
    torch.manual_seed(0)
    G, D = build_networks(tiny("infogan", info_body="fc", info_q_trains_body=q_trains_body), (1, 28, 28), 0)
    z = torch.randn(8, G.z_dim)
    with torch.no_grad():
        fake = G(z)
    _, term = D(fake, latent=z)  # D's update
    term.backward()
    assert all(p.grad is not None for p in D.q.parameters())
    body_grads = [p.grad for p in D.base.body.parameters()]
    assert all(g is not None for g in body_grads) if q_trains_body else all(g is None for g in body_grads)
    # G's update (D frozen): the term's gradient reaches G through the body either way.
    D.requires_grad_(False)
    _, term = D(G(z), latent=z)
    term.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters() if p.dim() > 1)


# ---------------------------------------------------------------- SAGAN


def test_self_attention_keeps_shape_and_starts_as_identity():
    torch.manual_seed(0)
    block = SelfAttention(16)
    x = torch.randn(2, 16, 7, 7)
    assert block.gamma.item() == 0.0
    assert torch.equal(block(x), x)


def test_self_attention_is_the_papers_formula():
    torch.manual_seed(0)
    block = SelfAttention(16)
    with torch.no_grad():
        block.gamma.fill_(0.7)
    x = torch.randn(2, 16, 3, 4)
    f, g, h = (conv(x).flatten(2) for conv in (block.f, block.g, block.h))  # (N, C', HW)
    s = torch.einsum("nci,ncj->nij", f, g)  # s_ij = f(x_i)^T g(x_j)
    beta = torch.softmax(s, dim=1)  # normalised over i, for each output position j
    attended = torch.einsum("nij,nci->ncj", beta, h).reshape(2, -1, 3, 4)
    expected = 0.7 * block.v(attended) + x
    assert torch.allclose(block(x), expected, atol=1e-5)


def test_sagan_has_spectral_norm_everywhere_and_attention_in_both_nets():
    torch.manual_seed(0)
    G, D = build_networks(tiny("sagan"), (1, 28, 28), 0)
    for net in (G, D):
        convs = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
        assert convs and all(parametrize.is_parametrized(m, "weight") for m in convs)
        assert sum(isinstance(m, SelfAttention) for m in net.modules()) == 1
    # After a few training-mode passes the power iteration has converged: sigma(W / sigma) = 1.
    for _ in range(30):
        D(torch.randn(4, 1, 28, 28))
    conv = [m for m in D.body if isinstance(m, nn.Conv2d)][1]  # the second strided conv
    sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
    assert abs(sigma.item() - 1) < 0.05
