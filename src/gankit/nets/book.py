"""The textbook's 64x64 DCGAN nets (seed 001, Sec. 13.3 "hands-on DCGAN", reused by 13.8's WGAN-GP): ``book64``.

With ``f`` = ``model.g_hidden`` / ``model.d_hidden`` (the book's ``filter = 64``)::

    G: z (N, 100) -> ReLU -> 1x1x100 -> T(8f, 4, 1, valid) 4x4 -> T(4f, 4, 2, same) 8x8 -> T(2f) 16x16
       -> T(f) 32x32 -> T(C, 4, 2, same) 64x64 -> tanh        (T = transposed conv; BN + ReLU after the first four)
    D: 64x64xC -> C(f, 4, 2, valid) 31 -> C(2f, 4, 2) 14 -> C(4f, 4, 2) 6 -> C(8f, 3, 1) 4 -> C(16f, 3, 1) 2
       -> global average pooling -> linear -> 1 raw score     (BN + LeakyReLU(0.2) after every conv)

As in the book, G applies a ReLU to z before its first layer, no convolution has a bias (batch norm's
shift replaces it; with batch norm off the convolutions get biases), D has batch norm on its input layer
too (Radford et al. 2016 leave it out there), and weights start Glorot-uniform (Keras's default).
Batch norm keeps PyTorch's momentum and epsilon. The nets are for 64 px images only; for
a critic trained with a gradient penalty the ``book-wgan-gp`` recipe turns D's batch norm off
(Gulrajani et al. 2017, Sec. 4), where the book's code keeps it.
"""

from __future__ import annotations

from torch import Tensor, nn

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.nets import register_arch
from gankit.nets.dcgan import LEAK, image_geometry

__all__ = ["BOOK_SIZE", "BookGenerator", "BookDiscriminator", "build_book64"]

BOOK_SIZE = 64
# (kernel, stride, padding) of D's five convolutions, all "valid": 64 -> 31 -> 14 -> 6 -> 4 -> 2.
_D_PLAN = ((4, 2, 0), (4, 2, 0), (4, 2, 0), (3, 1, 0), (3, 1, 0))


def _init_glorot(module: nn.Module) -> None:
    """Keras's defaults: Glorot-uniform kernels, zero biases (batch norm keeps scale 1, shift 0)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class BookGenerator(nn.Module):
    """G(z): ``tanh`` images ``(N, C, 64, 64)`` from ``z ~ N(0, I)`` through five transposed convolutions."""

    def __init__(self, z_dim: int = 100, channels: int = 3, hidden: int = 64, batchnorm: bool = True):
        super().__init__()
        self.z_dim = z_dim
        self.num_classes = 0
        widths = [z_dim, 8 * hidden, 4 * hidden, 2 * hidden, hidden]
        layers: list[nn.Module] = [nn.ReLU()]  # the book's tf.nn.relu on the reshaped z
        for i, (c_in, c_out) in enumerate(zip(widths, widths[1:])):
            stride, padding = (1, 0) if i == 0 else (2, 1)  # "valid" 1x1 -> 4x4, then "same" doublings
            layers.append(nn.ConvTranspose2d(c_in, c_out, 4, stride, padding, bias=not batchnorm))
            layers += [nn.BatchNorm2d(c_out)] if batchnorm else []
            layers.append(nn.ReLU(inplace=True))
        layers += [nn.ConvTranspose2d(hidden, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        _init_glorot(self)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(z[:, :, None, None])


class BookDiscriminator(nn.Module):
    """D(x): one raw score per 64x64 image (five valid convolutions, global average pooling, linear)."""

    def __init__(self, channels: int = 3, hidden: int = 64, batchnorm: bool = True):
        super().__init__()
        self.num_classes = 0
        widths = [channels, hidden, 2 * hidden, 4 * hidden, 8 * hidden, 16 * hidden]
        layers: list[nn.Module] = []
        for c_in, c_out, (kernel, stride, padding) in zip(widths, widths[1:], _D_PLAN):
            layers.append(nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=not batchnorm))
            layers += [nn.BatchNorm2d(c_out)] if batchnorm else []
            layers.append(nn.LeakyReLU(LEAK, inplace=True))
        self.body = nn.Sequential(*layers)
        self.feature_channels = widths[-1]
        self.head = nn.Linear(widths[-1], 1)
        _init_glorot(self)

    def features(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The last feature map ``(N, 16f, 2, 2)``."""
        return self.body(x)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.head(self.features(x).mean(dim=(2, 3))).flatten()


@register_arch("book64")
def build_book64(model: ModelConfig, shape: tuple[int, ...], num_classes: int) -> tuple[nn.Module, nn.Module]:
    channels, size = image_geometry(shape)
    if size != BOOK_SIZE:
        raise GankitError(f"model.arch 'book64' is the textbook's 64x64 net, got {size} px images (set data.image_size=64)")
    if model.conditional:
        raise GankitError("model.arch 'book64' is unconditional: set model.conditional=false or use model.arch=dcgan")
    generator = BookGenerator(model.z_dim, channels, model.g_hidden, model.g_batchnorm)
    discriminator = BookDiscriminator(channels, model.d_hidden, model.d_batchnorm)
    return generator, discriminator
