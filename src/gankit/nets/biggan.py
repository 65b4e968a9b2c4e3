"""BigGAN's generator pieces (Brock, Donahue & Simonyan 2019), at a size a CPU trains.

- :class:`ConditionalBatchNorm2d`: batch norm whose gain and bias are linear functions of a conditioning
  vector ``c`` (Sec. 3 and Appendix B): ``y = (1 + W_γ c) ⊙ x̂ + W_β c``, ``x̂`` the normalised input. In G,
  ``c = [z_k, e(y)]``: one *shared* class embedding ``e`` (one table for all blocks, not one per layer)
  joined to the block's chunk of z, so every block uses the class's own gains and biases.
- Hierarchical latents (:func:`split_latent`): z is split into one chunk per block plus one for the
  first linear layer, so the noise acts on every resolution, not only at the input (Sec. 3, "skip-z").
- :class:`GeneratorBlock`: BigGAN's residual up-block,
  ``CBN → ReLU → up×2 → conv3x3 → CBN → ReLU → conv3x3``, plus a shortcut ``up×2 → conv1x1``.
- Orthogonal initialisation of every conv and linear weight (Saxe et al. 2014), as BigGAN's G and D.

The ``biggan`` architecture pairs this G (self-attention at 14 px for 28 px images, else 16 px, as SAGAN)
with SAGAN's discriminator: the DCGAN body with self-attention and the projection head
``score = ψ(φ(x)) + ⟨embed(y), φ(x)⟩`` (Miyato & Koyama 2018, :class:`~gankit.nets.dcgan.DCGANDiscriminator`),
spectral norm on every layer of both nets. BigGAN's own D is residual too; the DCGAN body keeps the
step affordable on 2 CPU cores. The orthogonal regulariser is :func:`gankit.penalties.orthogonal_regularization`
(``loss.ortho_weight``); the recipe in :mod:`gankit.recipes` adds the hinge loss, TTUR and the EMA of G.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.nets import register_arch
from gankit.nets.dcgan import BlockFactory, DCGANDiscriminator, conditioning_classes, image_geometry, label_dim
from gankit.nets.sagan import SelfAttention, attention_resolution
from gankit.penalties import apply_spectral_norm

__all__ = ["ConditionalBatchNorm2d", "GeneratorBlock", "BigGANGenerator", "split_latent", "latent_chunks", "growth_plan"]


def growth_plan(size: int) -> tuple[int, int]:
    """``(start, blocks)``: G's first feature map is ``start`` px and ``blocks`` doublings reach ``size``."""
    plans = {28: (7, 2), 32: (4, 3), 64: (4, 4)}
    if size not in plans:
        raise GankitError(f"biggan nets support image sizes {', '.join(map(str, plans))}, got {size} px (set data.image_size)")
    return plans[size]


def latent_chunks(z_dim: int, chunks: int) -> list[int]:
    """Sizes of the ``chunks`` pieces z is split into: as equal as possible, the first ones larger by one."""
    if z_dim < chunks:
        raise GankitError(f"model.z_dim must be >= {chunks} to give each of the {chunks} hierarchical latent chunks one coordinate, got {z_dim}")
    return [z_dim // chunks + (i < z_dim % chunks) for i in range(chunks)]


def split_latent(z: Tensor, sizes: list[int]) -> tuple[Tensor, ...]:
    """``z`` ``(N, Σ sizes)`` cut into consecutive chunks ``(N, sizes[k])`` (BigGAN's hierarchical latents)."""
    return torch.split(z, sizes, dim=1)


class ConditionalBatchNorm2d(nn.Module):
    """``y = (1 + W_γ c) ⊙ BN(x) + W_β c`` per channel, ``c`` ``(N, cond_dim)`` (BN without its own affine)."""

    def __init__(self, channels: int, cond_dim: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(cond_dim, channels, bias=False)
        self.bias = nn.Linear(cond_dim, channels, bias=False)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        gain = 1 + self.gain(c)
        return self.norm(x) * gain[:, :, None, None] + self.bias(c)[:, :, None, None]


class GeneratorBlock(nn.Module):
    """BigGAN's residual up-block (module docstring): doubles the resolution, ``c_in`` -> ``c_out`` channels."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int):
        super().__init__()
        self.norm1 = ConditionalBatchNorm2d(c_in, cond_dim)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2 = ConditionalBatchNorm2d(c_out, cond_dim)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.norm1(x, c)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.norm2(self.conv1(h), c)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class BigGANGenerator(nn.Module):
    """G(z, y): ``tanh`` images from hierarchical latents and a shared class embedding (module docstring).

    Widths halve block by block from ``hidden·2^blocks`` at the start map to ``hidden`` at full size.
    ``attention`` is inserted after the block whose output is ``attention_at`` px.
    """

    def __init__(self, z_dim: int, channels: int, size: int, hidden: int = 32, num_classes: int = 0,
                 attention: BlockFactory | None = None, attention_at: int = 0):
        super().__init__()
        self.z_dim = z_dim
        self.num_classes = num_classes
        start, blocks = growth_plan(size)
        self.start = start
        self.chunk_sizes = latent_chunks(z_dim, blocks + 1)
        widths = [hidden * 2 ** (blocks - i) for i in range(blocks + 1)]
        embed_dim = label_dim(num_classes) if num_classes else 0
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None  # shared by every block
        self.linear = nn.Linear(self.chunk_sizes[0], widths[0] * start * start)
        self.blocks = nn.ModuleList(
            GeneratorBlock(c_in, c_out, chunk + embed_dim) for c_in, c_out, chunk in zip(widths, widths[1:], self.chunk_sizes[1:])
        )
        resolutions = [start * 2 ** (i + 1) for i in range(blocks)]
        self.attention = nn.ModuleDict(
            {str(i): attention(widths[i + 1]) for i, r in enumerate(resolutions) if attention is not None and r == attention_at}
        )
        self.out = nn.Sequential(nn.BatchNorm2d(widths[-1]), nn.ReLU(), nn.Conv2d(widths[-1], channels, 3, padding=1), nn.Tanh())
        init_orthogonal(self)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.num_classes and labels is None:
            raise GankitError(f"this generator is conditional on {self.num_classes} classes: labels are required")
        first, *rest = split_latent(z, self.chunk_sizes)
        shared = [self.embed(labels)] if self.embed is not None else []
        h = self.linear(first).view(z.shape[0], -1, self.start, self.start)
        for i, (block, chunk) in enumerate(zip(self.blocks, rest)):
            h = block(h, torch.cat([chunk, *shared], dim=1))
            if str(i) in self.attention:
                h = self.attention[str(i)](h)
        return self.out(h)


def init_orthogonal(module: nn.Module) -> None:
    """Orthogonal conv / linear weights and zero biases (BigGAN's initialisation, after Saxe et al. 2014)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.orthogonal_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


@register_arch("biggan")
def build_biggan(model: ModelConfig, shape: tuple[int, ...], num_classes: int) -> tuple[nn.Module, nn.Module]:
    channels, size = image_geometry(shape)
    classes = conditioning_classes(model, num_classes)
    at = attention_resolution(size)
    generator = BigGANGenerator(model.z_dim, channels, size, model.g_hidden, classes, SelfAttention, at)
    discriminator = DCGANDiscriminator(channels, size, model.d_hidden, False, classes, True, SelfAttention, at)
    return apply_spectral_norm(generator), apply_spectral_norm(discriminator)
