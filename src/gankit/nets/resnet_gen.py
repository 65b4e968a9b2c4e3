"""ResNet-block generator of CycleGAN (Zhu et al. 2017, appendix 7.2; after Johnson et al. 2016).

Downsample twice, transform at 1/4 resolution with residual blocks, upsample twice:

    c7s1-64, d128, d256, R256 x n_blocks, u128, u64, c7s1-out

- ``c7s1-k``: reflection pad 3, 7x7 conv stride 1 with ``k`` filters, norm, ReLU (the last: conv then tanh, no norm);
- ``dk``: 3x3 conv stride 2, norm, ReLU;
- ``Rk``: residual block ``x + [pad-conv3x3-norm-ReLU-pad-conv3x3-norm](x)`` with reflection padding (the
  residual adds no ReLU after the sum, as in the reference implementation);
- ``uk``: 3x3 transposed conv stride 2 (output padding 1, so the size exactly doubles), norm, ReLU.

The paper uses 6 blocks for 128x128 images and 9 for 256x256 and above (:func:`default_res_blocks`).
Reflection padding avoids the border artefacts of zero padding. Norm is instance norm in CycleGAN.
Image sides must be divisible by 4 (two exact halvings).
"""

from __future__ import annotations

from torch import Tensor, nn

from gankit.errors import GankitError
from gankit.nets.patchgan import conv_bias, init_weights_, make_norm

__all__ = ["default_res_blocks", "ResnetBlock", "ResnetGenerator"]

DOWNSAMPLINGS = 2


def default_res_blocks(image_size: int) -> int:
    """9 residual blocks for images of 256 px and above, 6 below (Zhu et al. 2017, appendix 7.2)."""
    return 9 if image_size >= 256 else 6


class ResnetBlock(nn.Module):
    """``x + F(x)`` with ``F`` = reflect-pad, conv3x3, norm, ReLU, reflect-pad, conv3x3, norm (same channels)."""

    def __init__(self, channels: int, norm: str = "instance"):
        super().__init__()
        bias = conv_bias(norm)
        self.residual = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), make_norm(norm, channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), make_norm(norm, channels),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return x + self.residual(x)


class ResnetGenerator(nn.Module):
    """``G(a) -> b``: ``(N, in_channels, H, W)`` -> ``(N, out_channels, H, W)`` in [-1, 1], ``H, W`` divisible by 4."""

    def __init__(self, in_channels: int, out_channels: int, base_channels: int = 64, n_blocks: int = 9, norm: str = "instance"):
        super().__init__()
        if n_blocks < 0:
            raise GankitError(f"config key 'model.res_blocks': must be >= 0, got {n_blocks}")
        bias = conv_bias(norm)
        c = base_channels
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, c, 7, bias=bias), make_norm(norm, c), nn.ReLU(True)]
        for _ in range(DOWNSAMPLINGS):
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=bias), make_norm(norm, 2 * c), nn.ReLU(True)]
            c *= 2
        layers += [ResnetBlock(c, norm) for _ in range(n_blocks)]
        for _ in range(DOWNSAMPLINGS):
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=bias), make_norm(norm, c // 2), nn.ReLU(True)]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.n_blocks = n_blocks
        init_weights_(self)

    def forward(self, a: Tensor) -> Tensor:
        factor = 2**DOWNSAMPLINGS
        if a.shape[-1] % factor or a.shape[-2] % factor:
            raise GankitError(f"the ResNet generator needs image sides divisible by {factor}, got {tuple(a.shape[-2:])}")
        return self.model(a)
