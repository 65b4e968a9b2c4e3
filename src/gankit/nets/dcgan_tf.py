"""The DCGAN of DCGAN-tensorflow (Kim, carpedm20) at 28 px, as PacGAN's code builds it for its Table 2
(``stacked_MNIST_experiments/VEEGAN_experiment``: the VEEGAN setting of Stacked MNIST); registered as
``model.arch = "dcgan-tf"``.

- G(z): z ~ U(-1, 1)^d; Linear to 2x2x(8h) + BN + ReLU; 5x5 transposed convolutions, stride 2 ("SAME"),
  to 4x4x(4h), 7x7x(2h), 14x14x(h), each + BN + ReLU, and to 28x28xC; tanh. h = ``model.g_hidden`` (64).
- D(x): four 5x5 convolutions, stride 2 ("SAME"), 28 -> 14 -> 7 -> 4 -> 2, of d, 2d, 4d, 8d filters
  (d = ``model.d_hidden``, 64), BN on all but the first, LeakyReLU(0.2); one linear output.
- Weights N(0, 0.02²), biases 0; BN scales 1.

gankit samples z ~ N(0, I) everywhere; G's first operation, erf(z / √2) = 2Φ(z) - 1, maps it to exactly
U(-1, 1) (the probability integral transform), so G sees the paper's uniform latent.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.nets import register_arch
from gankit.nets.dcgan import image_geometry

LEAK = 0.2
SIZE = 28
# TensorFlow's "SAME" stride-2 transposed convolutions out of 2, 4, 7 and 14 px: 4, 7, 14 and 28 px. With a
# 5x5 kernel and padding 2, PyTorch gives 2·in - 1 px; output_padding adds the last row where TF has it.
UPSAMPLING_EXTRA = (1, 0, 1, 1)


def init_tensorflow_weights_(module: nn.Module) -> nn.Module:
    """DCGAN-tensorflow's initialisers: weights N(0, 0.02²), biases 0 (BN layers keep scale 1, shift 0)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            nn.init.zeros_(layer.bias)
    return module


class UniformLatent(nn.Module):
    """z ~ N(0, I) -> erf(z / √2) ~ U(-1, 1): the same draw, seen by G as DCGAN-tensorflow's uniform latent."""

    def forward(self, z: Tensor) -> Tensor:
        return torch.erf(z / math.sqrt(2.0))


class TFDCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, hidden: int = 64):
        super().__init__()
        self.z_dim = z_dim
        self.num_classes = 0
        widths = (8 * hidden, 4 * hidden, 2 * hidden, hidden, channels)
        layers: list[nn.Module] = [UniformLatent(), nn.Linear(z_dim, widths[0] * 4), nn.Unflatten(1, (widths[0], 2, 2)),
                                   nn.BatchNorm2d(widths[0]), nn.ReLU()]
        for c_in, c_out, extra in zip(widths, widths[1:], UPSAMPLING_EXTRA):
            layers += [nn.ConvTranspose2d(c_in, c_out, 5, 2, 2, output_padding=extra), nn.BatchNorm2d(c_out), nn.ReLU()]
        self.net = init_tensorflow_weights_(nn.Sequential(*layers[:-2], nn.Tanh()))  # the image layer: tanh, no BN

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(z)


class TFDCGANDiscriminator(nn.Module):
    def __init__(self, channels: int, hidden: int = 64):
        super().__init__()
        self.num_classes = 0
        layers: list[nn.Module] = []
        width = channels
        for i, out in enumerate((hidden, 2 * hidden, 4 * hidden, 8 * hidden)):  # 28 -> 14 -> 7 -> 4 -> 2
            layers += [nn.Conv2d(width, out, 5, 2, 2)] + ([nn.BatchNorm2d(out)] if i else []) + [nn.LeakyReLU(LEAK)]
            width = out
        self.net = init_tensorflow_weights_(nn.Sequential(*layers, nn.Flatten(), nn.Linear(8 * hidden * 4, 1)))

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(x).flatten()


def unconditional_28px_channels(arch: str, model: ModelConfig, shape: tuple[int, ...]) -> int:
    """The channels of 28 px examples for the Stacked MNIST nets; GankitError for other sizes or a conditional model."""
    channels, size = image_geometry(shape)
    if size != SIZE or model.conditional:
        raise GankitError(f"model.arch {arch!r} is an unconditional 28 px Stacked MNIST net; got {size} px"
                          + (" and model.conditional" if model.conditional else ""))
    return channels


@register_arch("dcgan-tf")
def build_tf_dcgan(model: ModelConfig, shape: tuple[int, ...], num_classes: int) -> tuple[nn.Module, nn.Module]:
    channels = unconditional_28px_channels("dcgan-tf", model, shape)
    return TFDCGANGenerator(model.z_dim, channels, model.g_hidden), TFDCGANDiscriminator(channels, model.d_hidden)
