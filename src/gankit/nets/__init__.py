"""Network registry: build G and D for a data set from the model config.

Each architecture registers ``build(model_config, shape, num_classes) -> (G, D)``; ``arch="auto"``
picks ``mlp`` for vector data and ``dcgan`` for images. Every G takes ``(z, labels=None)`` and has
``z_dim`` and ``num_classes``; every D takes ``(x, labels=None)`` and returns one raw score per
example (or per patch), never a probability: losses apply their own output activation.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.nets.mlp import MLPDiscriminator, MLPGenerator, sample_latent
from gankit.nets.packing import PackedDiscriminator, packed_shape
from gankit.nets.pacgan import PacGANDiscriminator, PacGANGenerator
from gankit.registry import Registry

__all__ = ["register_arch", "build_networks", "arch_names", "resolve_arch", "sample_latent"]

Builder = Callable[[ModelConfig, tuple[int, ...], int], tuple[nn.Module, nn.Module]]
# The image nets register their architectures when imported, which happens on first lookup.
_ARCHS: Registry[Builder] = Registry("model.arch", modules=["gankit.nets.dcgan", "gankit.nets.infogan", "gankit.nets.sagan",
                                                                 "gankit.nets.unrolled", "gankit.nets.dcgan_tf", "gankit.nets.book",
                                                                 "gankit.nets.biggan"])


def register_arch(name: str):
    return _ARCHS.register(name)


def arch_names() -> list[str]:
    return _ARCHS.names()


def resolve_arch(arch: str, shape: tuple[int, ...]) -> str:
    if arch == "auto":
        return "dcgan" if len(shape) == 3 else "mlp"
    return arch


def build_networks(model: ModelConfig, shape: tuple[int, ...], num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """(G, D) for examples of ``shape`` with ``num_classes`` labels (0 = unconditional).

    With ``model.pack`` = m > 1, D is the architecture's D for packs of m examples (m times the
    features or channels) inside a :class:`~gankit.nets.packing.PackedDiscriminator`.
    """
    build = _ARCHS.get(resolve_arch(model.arch, shape))
    generator, discriminator = build(model, shape, num_classes)
    if model.pack > 1:
        if model.conditional or resolve_arch(model.arch, shape) == "infogan":
            raise GankitError(f"config key 'model.pack': packing ({model.pack}) needs an unconditional D with one "
                              "score per example (not a conditional or InfoGAN D)")
        _, inner = build(model, packed_shape(shape, model.pack), num_classes)
        discriminator = PackedDiscriminator(inner, model.pack)
    return generator, discriminator


@register_arch("mlp")
def _build_mlp(model: ModelConfig, shape: tuple[int, ...], num_classes: int) -> tuple[nn.Module, nn.Module]:
    if len(shape) != 1:
        raise GankitError(f"model.arch 'mlp' needs vector data, got examples of shape {tuple(shape)}")
    dim = shape[0]
    generator = MLPGenerator(model.z_dim, dim, model.g_hidden, model.g_layers, model.g_batchnorm)
    discriminator = MLPDiscriminator(dim, model.d_hidden, model.d_layers, model.d_batchnorm)
    return generator, discriminator


@register_arch("pacgan-mlp")
def _build_pacgan_mlp(model: ModelConfig, shape: tuple[int, ...], num_classes: int) -> tuple[nn.Module, nn.Module]:
    if len(shape) != 1 or num_classes:
        raise GankitError(f"model.arch 'pacgan-mlp' needs unlabelled vector data, got examples of shape {tuple(shape)}")
    generator = PacGANGenerator(model.z_dim, shape[0], model.g_hidden, model.g_layers, model.g_batchnorm)
    return generator, PacGANDiscriminator(shape[0], model.d_hidden, model.d_layers)
