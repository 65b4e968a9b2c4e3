"""The networks of a pix2pix or CycleGAN run: generator(s) G (and F) and PatchGAN discriminator(s).

pix2pix (Isola et al. 2017): a U-Net G: A -> B and one conditional PatchGAN that judges (input, output)
pairs stacked along channels. CycleGAN (Zhu et al. 2017): ResNet generators G: A -> B and F: B -> A and a
PatchGAN per domain, ``D_B`` for B images and ``D_A`` for A images. ``model.arch`` may swap the generators.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from gankit.config import Config, ModelConfig
from gankit.errors import GankitError
from gankit.nets.patchgan import PatchGANDiscriminator, check_patchgan_input
from gankit.nets.resnet_gen import ResnetGenerator, default_res_blocks
from gankit.nets.unet import UNetGenerator
from gankit.translation.config import TRANSLATION_RECIPES

__all__ = ["generator_names", "generator_arch", "build_generator", "TranslationModels", "build_translation_models"]


def generator_names(direction: str) -> tuple[str, str]:
    """``(forward, backward)`` generator names for ``data.direction``: ``("G_AB", "G_BA")`` or the reverse."""
    return ("G_AB", "G_BA") if direction == "AtoB" else ("G_BA", "G_AB")


def generator_arch(model: ModelConfig, recipe: str) -> str:
    """``model.arch`` with ``auto`` resolved to the recipe's generator: ``unet`` (pix2pix) or ``resnet`` (CycleGAN)."""
    arch = {"auto": "unet" if recipe == "pix2pix" else "resnet"}.get(model.arch, model.arch)
    if arch not in ("unet", "resnet"):
        raise GankitError(f"config key 'model.arch': translation generators are 'unet' or 'resnet', got {model.arch!r}")
    return arch


def build_generator(model: ModelConfig, recipe: str, in_shape: tuple[int, ...], out_channels: int) -> nn.Module:
    """The generator named by ``model.arch`` (``unet``, pix2pix's; ``resnet``, CycleGAN's; ``auto`` = the recipe's)."""
    channels, size = in_shape[0], in_shape[-1]
    if generator_arch(model, recipe) == "unet":
        return UNetGenerator(channels, out_channels, size, model.g_hidden, model.norm)
    blocks = model.res_blocks or default_res_blocks(size)
    return ResnetGenerator(channels, out_channels, model.g_hidden, blocks, model.norm)


@dataclass
class TranslationModels:
    generators: nn.ModuleDict  # "G_AB" (and "G_BA"): what generator.safetensors holds
    discriminators: nn.ModuleDict  # pix2pix: the pair critic under the target's name; CycleGAN: "D_A", "D_B"


def build_translation_models(config: Config, shape_a: tuple[int, ...], shape_b: tuple[int, ...]) -> TranslationModels:
    """G (and F) and the PatchGAN(s) for ``config``, on the CPU, initialised from ``torch``'s global RNG."""
    m, recipe = config.model, config.recipe
    forward, backward = generator_names(config.data.direction)
    source, target = (shape_a, shape_b) if config.data.direction == "AtoB" else (shape_b, shape_a)
    check_patchgan_input(target[-1], m.d_layers)
    generators = nn.ModuleDict({forward: build_generator(m, recipe, source, target[0])})
    target_d, source_d = ("D_B", "D_A") if config.data.direction == "AtoB" else ("D_A", "D_B")
    if TRANSLATION_RECIPES[recipe] == "paired":
        # Conditional D: it sees the input and the (real or generated) output stacked along channels.
        discriminators = nn.ModuleDict({target_d: PatchGANDiscriminator(source[0] + target[0], m.d_hidden, m.d_layers, m.norm)})
    else:
        generators[backward] = build_generator(m, recipe, target, source[0])
        discriminators = nn.ModuleDict({
            target_d: PatchGANDiscriminator(target[0], m.d_hidden, m.d_layers, m.norm),
            source_d: PatchGANDiscriminator(source[0], m.d_hidden, m.d_layers, m.norm),
        })  # fmt: skip
    return TranslationModels(generators, discriminators)
