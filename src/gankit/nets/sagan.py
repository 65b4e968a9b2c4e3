"""SAGAN pieces (Zhang, Goodfellow, Metaxas & Odena 2019): self-attention and spectral norm everywhere.

:class:`SelfAttention` lets every position attend to every other, so G can coordinate distant
details and D can check them (Sec. 3):

    f = W_f x,  g = W_g x,  h = W_h x                  (1x1 convs to C/8 channels)
    β_{j,i} = softmax_i(f(x_i)ᵀ g(x_j))                 (how much output j looks at position i)
    o_j = W_v Σ_i β_{j,i} h(x_i),    y_j = γ·o_j + x_j   (γ a learnt scalar, initialised to 0)

With γ = 0 the block starts as the identity and the nets learn to use attention gradually.

The ``sagan`` architecture is the DCGAN pair of :mod:`gankit.nets.dcgan` with one self-attention
block at the 14 px (28 px images) or 16 px (32 and 64 px) feature map of both nets, and spectral
normalisation on every conv of G *and* D (Sec. 4.1: SN in G too stabilises it). D has no batch
norm; a conditional SAGAN uses the projection discriminator. The recipe adds the hinge loss and
TTUR: lr_D = 4e-4, lr_G = 1e-4, Adam betas (0, 0.9) (Sec. 4.2, after Heusel et al. 2017).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.config import ModelConfig
from gankit.nets import register_arch
from gankit.nets.dcgan import DCGANDiscriminator, DCGANGenerator, conditioning_classes, image_geometry
from gankit.penalties import apply_spectral_norm

__all__ = ["SelfAttention", "attention_resolution", "build_sagan"]


class SelfAttention(nn.Module):
    """``y = γ·W_v·attention(g(x), f(x), h(x)) + x`` over the H·W positions (module docstring)."""

    def __init__(self, channels: int, reduction: int = 8):
        super().__init__()
        inner = max(channels // reduction, 1)
        self.f = nn.Conv2d(channels, inner, 1, bias=False)  # keys
        self.g = nn.Conv2d(channels, inner, 1, bias=False)  # queries
        self.h = nn.Conv2d(channels, inner, 1, bias=False)  # values
        self.v = nn.Conv2d(inner, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        n, c, height, width = x.shape

        def positions(t: Tensor) -> Tensor:  # (N, C', H, W) -> (N, 1, H·W, C'): one attention head
            return t.flatten(2).transpose(1, 2).unsqueeze(1)

        # SAGAN's logits are plain dot products: no 1/sqrt(d) scaling.
        attended = F.scaled_dot_product_attention(positions(self.g(x)), positions(self.f(x)), positions(self.h(x)), scale=1.0)
        o = self.v(attended.squeeze(1).transpose(1, 2).reshape(n, -1, height, width))
        return x + self.gamma * o


def attention_resolution(size: int) -> int:
    """Feature-map size that gets the attention block: 14 px for 28 px images, else 16 px."""
    return 14 if size == 28 else 16


@register_arch("sagan")
def build_sagan(model: ModelConfig, shape: tuple[int, ...], num_classes: int) -> tuple[nn.Module, nn.Module]:
    channels, size = image_geometry(shape)
    classes = conditioning_classes(model, num_classes)
    at = attention_resolution(size)
    generator = DCGANGenerator(model.z_dim, channels, size, model.g_hidden, model.g_batchnorm, classes, SelfAttention, at)
    discriminator = DCGANDiscriminator(channels, size, model.d_hidden, False, classes, True, SelfAttention, at)
    return apply_spectral_norm(generator), apply_spectral_norm(discriminator)
