"""DCGAN generator and discriminator for 28, 32 and 64 px images, optionally class-conditional.

DCGAN (Radford, Metz & Chintala 2016): G is a stack of transposed convolutions, each doubling the
resolution and halving the channels, with batch norm and ReLU, and ``tanh`` on the last; D mirrors
it with strided convolutions and LeakyReLU(0.2), batch norm on every layer but the first, and no
pooling or fully connected hidden layers. At 64 px this is the seeds' design exactly:

    G: z (1x1) -> 4x4·8h -> 8x8·4h -> 16x16·2h -> 32x32·h -> 64x64·C      (5 transposed convs)
    D: 64x64·C -> 32x32·h -> 16x16·2h -> 8x8·4h -> 4x4·8h -> 1 score       (5 convs)

At 32 px one doubling is dropped; at 28 px (MNIST) the 4x4 -> 7x7 step uses a 3x3 kernel
(``(4-1)·2 - 2 + 3 = 7``) and the rest double to 14 and 28. ``h`` is ``model.g_hidden`` /
``model.d_hidden``; ``model.g_batchnorm`` / ``model.d_batchnorm`` switch batch norm off (the seeds'
"DCGAN without BN" comparison). A critic trained with a gradient penalty must not use batch norm
(the penalty is per example, batch norm mixes examples; Gulrajani et al. 2017, Sec. 4): the image
defaults leave D without it and :func:`gankit.recipes.resolve_config` refuses the combination.

Conditioning (CGAN, Mirza & Osindero 2014): G joins a learned label embedding to z; D joins the
embedding, broadcast to label maps, to its input image channels. With ``model.projection`` D
instead adds ``⟨embed(y), φ(x)⟩`` to its score, ``φ(x)`` being its last feature map summed over
space (the projection discriminator, Miyato & Koyama 2018, Eq. 3).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.nets import register_arch

__all__ = ["IMAGE_SIZES", "upsampling_plan", "label_dim", "DCGANGenerator", "DCGANDiscriminator", "image_geometry"]

IMAGE_SIZES = (28, 32, 64)
LEAK = 0.2  # LeakyReLU slope in D (Radford et al. 2016)

# An optional extra block (e.g. self-attention) built for a given channel count.
BlockFactory = Callable[[int], nn.Module]


def upsampling_plan(size: int) -> list[tuple[int, int, int]]:
    """(kernel, stride, padding) of each transposed conv that grows G's 4x4 map to ``size`` px.

    D uses the same list reversed, so its convolutions shrink the image back to 4x4 exactly.
    """
    if size == 64:
        return [(4, 2, 1)] * 4
    if size == 32:
        return [(4, 2, 1)] * 3
    if size == 28:
        return [(3, 2, 1), (4, 2, 1), (4, 2, 1)]
    raise GankitError(f"DCGAN nets support image sizes {', '.join(map(str, IMAGE_SIZES))}, got {size} px (set data.image_size)")


def image_geometry(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(channels, size)`` of square image examples ``(C, S, S)``; GankitError for anything else."""
    if len(shape) != 3 or shape[1] != shape[2]:
        raise GankitError(f"image nets need square images of shape (C, S, S), got examples of shape {tuple(shape)}")
    return shape[0], shape[1]


def label_dim(num_classes: int) -> int:
    """Width of the learned label embedding: one per class up to 64 (1000-class Stacked MNIST gets 64)."""
    return min(num_classes, 64)


def label_maps(embedding: Tensor, height: int, width: int) -> Tensor:
    """``(N, E)`` label embeddings broadcast to ``(N, E, H, W)`` maps to join image channels."""
    return embedding[:, :, None, None].expand(-1, -1, height, width)


def _check_labels(labels: Tensor | None, num_classes: int, who: str) -> None:
    if num_classes and labels is None:
        raise GankitError(f"this {who} is conditional on {num_classes} classes: labels are required")


class DCGANGenerator(nn.Module):
    """G(z, y): ``tanh`` images ``(N, C, S, S)`` from ``z ~ N(0, I)`` (and labels ``y`` when conditional).

    ``attention`` (e.g. SAGAN's self-attention block) is inserted after the hidden layer whose output
    is ``attention_at`` px.
    """

    def __init__(
        self,
        z_dim: int,
        channels: int,
        size: int,
        hidden: int = 64,
        batchnorm: bool = True,
        num_classes: int = 0,
        attention: BlockFactory | None = None,
        attention_at: int = 0,
    ):
        super().__init__()
        self.z_dim = z_dim
        self.num_classes = num_classes
        plan = upsampling_plan(size)
        widths = [hidden * 2 ** (len(plan) - 1 - i) for i in range(len(plan))]  # 4x4 map first
        self.embed = nn.Embedding(num_classes, label_dim(num_classes)) if num_classes else None
        in_dim = z_dim + (label_dim(num_classes) if num_classes else 0)

        def block(c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> list[nn.Module]:
            # No conv bias before batch norm: BN's shift replaces it (as in the seeds' code).
            layers: list[nn.Module] = [nn.ConvTranspose2d(c_in, c_out, kernel, stride, padding, bias=not batchnorm)]
            if batchnorm:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.ReLU(inplace=True))
            return layers

        layers = block(in_dim, widths[0], 4, 1, 0)
        resolution = 4
        for c_in, c_out, (kernel, stride, padding) in zip(widths, widths[1:], plan):
            layers += block(c_in, c_out, kernel, stride, padding)
            resolution = (resolution - 1) * stride - 2 * padding + kernel
            if attention is not None and resolution == attention_at:
                layers.append(attention(c_out))
        kernel, stride, padding = plan[-1]
        layers += [nn.ConvTranspose2d(widths[-1], channels, kernel, stride, padding), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_dcgan_weights(self)

    def generator_input(self, z: Tensor, labels: Tensor | None) -> Tensor:
        """``[z, embed(y)]`` as a 1x1 map: the input of the first transposed conv."""
        _check_labels(labels, self.num_classes, "generator")
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels)], dim=1)
        return z[:, :, None, None]

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(self.generator_input(z, labels))


class DCGANDiscriminator(nn.Module):
    """D(x, y): one raw score per image. ``features`` is the body (the last 4x4 map), shared by heads."""

    def __init__(
        self,
        channels: int,
        size: int,
        hidden: int = 64,
        batchnorm: bool = False,
        num_classes: int = 0,
        projection: bool = False,
        attention: BlockFactory | None = None,
        attention_at: int = 0,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.projection = bool(num_classes) and projection
        plan = list(reversed(upsampling_plan(size)))
        widths = [hidden * 2**i for i in range(len(plan))]
        self.feature_channels = widths[-1]
        concat = num_classes and not self.projection
        self.embed = nn.Embedding(num_classes, label_dim(num_classes) if concat else widths[-1]) if num_classes else None
        c_in = channels + (label_dim(num_classes) if concat else 0)
        layers: list[nn.Module] = []
        resolution = size
        for i, (c_out, (kernel, stride, padding)) in enumerate(zip(widths, plan)):
            layers.append(nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=not (batchnorm and i > 0)))
            if batchnorm and i > 0:  # never on D's input layer (Radford et al. 2016, Sec. 3)
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(LEAK, inplace=True))
            resolution = (resolution + 2 * padding - kernel) // stride + 1
            if attention is not None and resolution == attention_at:
                layers.append(attention(c_out))
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(widths[-1], 1, 4)  # a 4x4 "valid" conv: a linear map of the whole 4x4 map
        init_dcgan_weights(self)

    def features(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The last feature map ``(N, F, 4, 4)`` (labels needed only when they are joined to the input)."""
        if self.embed is not None and not self.projection:
            _check_labels(labels, self.num_classes, "discriminator")
            x = torch.cat([x, label_maps(self.embed(labels), x.shape[2], x.shape[3])], dim=1)
        return self.body(x)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        _check_labels(labels, self.num_classes, "discriminator")
        h = self.features(x, labels)
        score = self.head(h).flatten()
        if self.projection:
            score = score + (self.embed(labels) * h.sum(dim=(2, 3))).sum(dim=1)
        return score


def init_dcgan_weights(module: nn.Module) -> None:
    """Conv weights ~ N(0, 0.02), BN scales ~ N(1, 0.02), biases 0 (Radford et al. 2016, Sec. 4)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


def conditioning_classes(model: ModelConfig, num_classes: int) -> int:
    """Classes the nets condition on: the data's when ``model.conditional``, else 0."""
    if not model.conditional:
        return 0
    if num_classes < 1:
        raise GankitError("model.conditional needs a labelled data set (this one has no labels)")
    return num_classes


@register_arch("dcgan")
def build_dcgan(model: ModelConfig, shape: tuple[int, ...], num_classes: int) -> tuple[nn.Module, nn.Module]:
    channels, size = image_geometry(shape)
    classes = conditioning_classes(model, num_classes)
    generator = DCGANGenerator(model.z_dim, channels, size, model.g_hidden, model.g_batchnorm, classes)
    discriminator = DCGANDiscriminator(channels, size, model.d_hidden, model.d_batchnorm, classes, model.projection)
    return generator, discriminator
