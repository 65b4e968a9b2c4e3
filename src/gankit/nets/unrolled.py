"""The small DCGAN of the Unrolled GAN paper's Stacked MNIST experiment (Metz et al. 2017, Sec. 3.3.1),
as PacGAN's code builds it for its Table 3 (``stacked_MNIST_experiments/unrolled_GAN_experiment``);
registered as ``model.arch = "unrolled-dcgan"``.

- G(z): Linear to 4x4x(8h) + BN + ReLU; 3x3 transposed convolutions, stride 2, to 7x7x(4h), 14x14x(2h),
  28x28x(h), each + BN + ReLU; a 3x3 convolution to C channels; tanh. h = ``model.g_hidden`` (8 in the paper).
- D(x): three 3x3 convolutions, stride 2, of d, 2d, 4d filters (d = ``model.d_hidden``), each + BN +
  LeakyReLU(0.3); one linear output. d = 2 is the paper's "D = 1/4 G", d = 4 its "D = 1/2 G": a
  discriminator too weak for the generator, where GANs drop most of Stacked MNIST's 1000 modes.
- Weights N(0, 0.02²), biases 0 (DCGAN-tensorflow's initialisers).
"""

from __future__ import annotations

from torch import Tensor, nn

from gankit.config import ModelConfig
from gankit.nets import register_arch
from gankit.nets.dcgan_tf import init_tensorflow_weights_, unconditional_28px_channels

LEAK = 0.3


class UnrolledGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, hidden: int = 8):
        super().__init__()
        self.z_dim = z_dim
        self.num_classes = 0

        def up(c_in: int, c_out: int, extra: int) -> list[nn.Module]:
            return [nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=extra), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.net = init_tensorflow_weights_(nn.Sequential(
            nn.Linear(z_dim, 8 * hidden * 16), nn.Unflatten(1, (8 * hidden, 4, 4)), nn.BatchNorm2d(8 * hidden), nn.ReLU(),
            *up(8 * hidden, 4 * hidden, 0),  # 4 -> 7
            *up(4 * hidden, 2 * hidden, 1),  # 7 -> 14
            *up(2 * hidden, hidden, 1),  # 14 -> 28
            nn.Conv2d(hidden, channels, 3, 1, 1), nn.Tanh(),
        ))

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(z)


class UnrolledDiscriminator(nn.Module):
    def __init__(self, channels: int, hidden: int = 2):
        super().__init__()
        self.num_classes = 0
        layers: list[nn.Module] = []
        width = channels
        for out in (hidden, 2 * hidden, 4 * hidden):  # 28 -> 14 -> 7 -> 4
            layers += [nn.Conv2d(width, out, 3, 2, 1), nn.BatchNorm2d(out), nn.LeakyReLU(LEAK)]
            width = out
        self.net = init_tensorflow_weights_(nn.Sequential(*layers, nn.Flatten(), nn.Linear(4 * hidden * 16, 1)))

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(x).flatten()


@register_arch("unrolled-dcgan")
def build_unrolled(model: ModelConfig, shape: tuple[int, ...], num_classes: int) -> tuple[nn.Module, nn.Module]:
    channels = unconditional_28px_channels("unrolled-dcgan", model, shape)
    return UnrolledGenerator(model.z_dim, channels, model.g_hidden), UnrolledDiscriminator(channels, model.d_hidden)
