"""U-Net generator of pix2pix (Isola et al. 2017, Sec. 3.2.1 and appendix 6.1.1).

An encoder-decoder whose bottleneck is 1x1, with a skip connection from every encoder level ``i`` to the
decoder level that mirrors it: the decoder input at level ``i`` is the concatenation of the encoder's
level-``i`` features and the decoder output from below, so low-level structure (edges, layout) shared by
input and output crosses the net without squeezing through the bottleneck. With ``D = log2(size)``
levels, level ``i`` has ``c_i = base · min(2^i, 8)`` channels (256 px, base 64: the paper's
C64-C128-C256-C512-C512-C512-C512-C512 encoder):

    encoder level i:  [LeakyReLU(0.2)] - Conv4x4 stride 2 - [Norm]       (no activation at level 0; no norm
                                                                           at level 0 nor at the innermost)
    decoder level i:  ReLU - ConvTranspose4x4 stride 2 - Norm - [Dropout(0.5)]   (level 0: ... - Tanh, no norm)

Dropout is the generator's only source of noise: the paper found that a noise vector z is ignored, so G
is stochastic only through dropout. As in the reference implementation (junyanz/pytorch-CycleGAN-and-
pix2pix), the decoder levels with dropout are the ``8·base``-channel levels between the ``4·base`` level
and the innermost (levels ``4 .. D-2``: three of them at 256 px, two at 128). Images below 64 px have no
such level, so there every level between the outermost and the innermost (``1 .. D-2``) gets it instead,
keeping G stochastic at every size.

``size`` must be a power of two >= 8 (the bottleneck is 1x1).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.errors import GankitError
from gankit.nets.patchgan import LEAK, conv_bias, init_weights_, make_norm

__all__ = ["unet_depth", "unet_channels", "dropout_levels", "UNetGenerator"]

DROPOUT = 0.5  # Isola et al. 2017, appendix 6.1.1


def unet_depth(image_size: int) -> int:
    """Number of stride-2 levels taking ``image_size`` down to 1x1: ``log2(image_size)``."""
    if image_size < 8 or image_size & (image_size - 1):
        raise GankitError(f"the U-Net generator needs a power-of-two image size >= 8 (set data.image_size), got {image_size}")
    return image_size.bit_length() - 1


def unet_channels(depth: int, base: int) -> list[int]:
    """Channels of each encoder level: ``base · min(2^i, 8)`` for ``i = 0 .. depth-1``."""
    return [base * min(2**i, 8) for i in range(depth)]


def dropout_levels(depth: int) -> list[int]:
    """Decoder levels followed by dropout: ``4 .. depth-2`` (the reference's rule), or ``1 .. depth-2`` below 64 px."""
    levels = list(range(4, depth - 1))
    return levels if levels else list(range(1, depth - 1))


class UNetGenerator(nn.Module):
    """``G(a) -> b``: ``(N, in_channels, S, S)`` -> ``(N, out_channels, S, S)`` in [-1, 1] (tanh)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        image_size: int,
        base_channels: int = 64,
        norm: str = "batch",
        dropout: float = DROPOUT,
    ):
        super().__init__()
        depth = unet_depth(image_size)
        channels = unet_channels(depth, base_channels)
        bias = conv_bias(norm)
        with_dropout = set(dropout_levels(depth)) if dropout > 0 else set()
        self.down = nn.ModuleList()
        self.up = nn.ModuleList()
        for i, c in enumerate(channels):
            outermost, innermost = i == 0, i == depth - 1
            c_in = in_channels if outermost else channels[i - 1]
            down: list[nn.Module] = [] if outermost else [nn.LeakyReLU(LEAK)]
            down.append(nn.Conv2d(c_in, c, 4, 2, 1, bias=bias))
            if not (outermost or innermost):
                down.append(make_norm(norm, c))
            self.down.append(nn.Sequential(*down))

            # The decoder at level i reads the level below's output, joined to this level's skip (except innermost).
            up_in = c if innermost else 2 * c
            if outermost:
                up = [nn.ReLU(), nn.ConvTranspose2d(up_in, out_channels, 4, 2, 1), nn.Tanh()]
            else:
                up = [nn.ReLU(), nn.ConvTranspose2d(up_in, c_in, 4, 2, 1, bias=bias), make_norm(norm, c_in)]
                if i in with_dropout:
                    up.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*up))
        self.image_size = image_size
        self.depth = depth
        init_weights_(self)

    def forward(self, a: Tensor) -> Tensor:
        if a.shape[-2:] != (self.image_size, self.image_size):
            raise GankitError(f"this U-Net translates {self.image_size} px images, got {tuple(a.shape[-2:])}")
        skips = []
        h = a
        for down in self.down:
            h = down(h)
            skips.append(h)
        h = self.up[-1](h)  # innermost: no skip to join
        for i in range(self.depth - 2, -1, -1):
            h = self.up[i](torch.cat([skips[i], h], dim=1))
        return h
