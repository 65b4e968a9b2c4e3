"""The textbook's 64x64 nets (model.arch=book64) and its two hands-on recipes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.nets import build_networks
from gankit.nets.book import BookDiscriminator, BookGenerator
from gankit.recipes import resolve_config


def _feature_shapes(module: nn.Module, x: torch.Tensor, kinds) -> list[tuple[int, ...]]:
    shapes = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape[1:])))
             for m in module.modules() if isinstance(m, kinds)]
    module(x)
    for hook in hooks:
        hook.remove()
    return shapes


def test_generator_is_the_books_five_transposed_convolutions():
    generator = BookGenerator(z_dim=100, channels=3, hidden=8).eval()
    z = torch.randn(2, 100)
    shapes = _feature_shapes(generator, z, nn.ConvTranspose2d)
    assert shapes == [(64, 4, 4), (32, 8, 8), (16, 16, 16), (8, 32, 32), (3, 64, 64)]  # 8f-4f-2f-f-3
    x = generator(z)
    assert x.abs().max() <= 1  # tanh
    assert sum(isinstance(m, nn.BatchNorm2d) for m in generator.modules()) == 4
    assert torch.equal(generator(z), generator(z.clamp(min=0)))  # the book's ReLU on z


def test_discriminator_is_five_valid_convolutions_then_pooling_and_one_linear_output():
    discriminator = BookDiscriminator(channels=3, hidden=4).eval()
    x = torch.randn(3, 3, 64, 64)
    shapes = _feature_shapes(discriminator, x, nn.Conv2d)
    assert shapes == [(4, 31, 31), (8, 14, 14), (16, 6, 6), (32, 4, 4), (64, 2, 2)]  # f-2f-4f-8f-16f, all valid
    assert discriminator(x).shape == (3,)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in discriminator.modules()) == 5  # input layer too, as the book
    assert isinstance(discriminator.head, nn.Linear) and discriminator.head.in_features == 64


def test_batchnorm_off_gives_the_convolutions_biases():
    discriminator = BookDiscriminator(hidden=2, batchnorm=False)
    convs = [m for m in discriminator.modules() if isinstance(m, nn.Conv2d)]
    assert all(conv.bias is not None for conv in convs)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in discriminator.modules())


def test_book_recipes_carry_the_books_settings():
    dcgan = resolve_config("book-dcgan", "emoji", "image")
    assert (dcgan.model.arch, dcgan.model.z_dim, dcgan.model.g_hidden, dcgan.data.batch_size, dcgan.data.image_size) == (
        "book64", 100, 64, 64, 64)
    assert (dcgan.loss.name, dcgan.optim.lr_d, dcgan.optim.beta1, dcgan.train.n_critic) == ("nsgan", 2e-4, 0.5, 5)
    assert dcgan.model.d_batchnorm
    wgan = resolve_config("book-wgan-gp", "emoji", "image")
    assert (wgan.loss.name, wgan.loss.gp_weight, wgan.train.n_critic, wgan.model.d_batchnorm) == ("wgan", 10.0, 5, False)


def test_any_recipe_can_use_the_book_nets_at_64_px_only():
    model = ModelConfig(arch="book64", z_dim=10, g_hidden=2, d_hidden=2)
    generator, discriminator = build_networks(model, (1, 64, 64))
    assert discriminator(generator(torch.randn(2, 10))).shape == (2,)
    with pytest.raises(GankitError, match="data.image_size=64"):
        build_networks(model, (3, 32, 32))
    with pytest.raises(GankitError, match="unconditional"):
        build_networks(ModelConfig(arch="book64", conditional=True), (3, 64, 64), 10)
