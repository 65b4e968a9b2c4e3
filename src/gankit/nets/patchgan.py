"""PatchGAN discriminator (Isola et al. 2017, pix2pix, Sec. 3.2.2), and the norm/init conventions of the translation nets.

A PatchGAN scores every ``N x N`` patch of its input as real or fake instead of the whole image, so it
only models high frequencies (L1, or the cycle loss, takes care of the low ones). It is fully
convolutional: ``n_layers`` stride-2 4x4 convolutions, then two stride-1 4x4 convolutions, the last one to
one channel, and returns the map of raw scores ``(N, 1, H', W')``, never a probability:

    C64 - C128 - C256 - C512(stride 1) - 1(stride 1)        (n_layers = 3; Ck = Conv4x4-Norm-LeakyReLU(0.2))

No norm on the first layer (as in DCGAN), channels doubling up to 8·``base``. The receptive field of one
output score is ``70 x 70`` for ``n_layers = 3`` (:func:`receptive_field`), the paper's default; 1 gives the
16x16 "PixelGAN"-like patch, 4 gives 142.

Shared by the U-Net, ResNet generator and PatchGAN (the reference implementation's conventions,
junyanz/pytorch-CycleGAN-and-pix2pix):

- norms (:func:`make_norm`): ``batch`` (pix2pix) is ``BatchNorm2d`` with affine parameters and running
  statistics; ``instance`` (CycleGAN) is ``InstanceNorm2d`` *without* affine parameters or running statistics
  (Ulyanov et al. 2016); a convolution followed by a batch norm has no bias (the norm's shift replaces it),
  one followed by an instance norm keeps its bias (the norm has no shift of its own);
- initialisation (:func:`init_weights_`): every conv weight ~ N(0, 0.02), biases 0, batch-norm scale
  ~ N(1, 0.02) and shift 0 (the papers' "weights initialised from a Gaussian with mean 0, std 0.02").
"""

from __future__ import annotations

from torch import Tensor, nn

from gankit.errors import GankitError

__all__ = [
    "NORMS", "make_norm", "conv_bias", "init_weights_", "receptive_field", "output_size", "check_patchgan_input",
    "PatchGANDiscriminator",
]

NORMS = ("batch", "instance", "none")
LEAK = 0.2  # LeakyReLU slope in D (and in the U-Net encoder), as in DCGAN
INIT_STD = 0.02


def check_norm(norm: str) -> str:
    if norm not in NORMS:
        raise GankitError(f"config key 'model.norm': {norm!r} is not one of {', '.join(NORMS)}")
    return norm


def make_norm(norm: str, channels: int) -> nn.Module:
    """The normalisation layer called ``norm`` for ``channels`` feature maps (identity for ``none``)."""
    check_norm(norm)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return nn.Identity()


def conv_bias(norm: str) -> bool:
    """Whether a convolution followed by ``norm`` needs its own bias: not before a batch norm."""
    return check_norm(norm) != "batch"


def init_weights_(net: nn.Module, std: float = INIT_STD) -> nn.Module:
    """In place: conv / transposed-conv / linear weights ~ N(0, std), biases 0; batch-norm scale ~ N(1, std), shift 0."""
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(module.weight, 0.0, std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.normal_(module.weight, 1.0, std)
            nn.init.zeros_(module.bias)
    return net


def receptive_field(n_layers: int) -> int:
    """Side of the input patch one PatchGAN score sees: ``r = 4`` for the last conv, ``r + 3`` for the stride-1
    conv before it, then ``2r + 2`` for each of the ``n_layers`` stride-2 convs (kernel 4). 3 layers -> 70."""
    r = 4 + 3
    for _ in range(n_layers):
        r = 2 * r + 2
    return r


class PatchGANDiscriminator(nn.Module):
    """``D(x) -> (N, 1, H', W')`` raw scores, one per overlapping patch of :func:`receptive_field` (n_layers) px.

    For pix2pix ``x`` is the input and output images concatenated along channels (D is conditioned on the
    input: it judges the *pair*); for CycleGAN ``x`` is one image of the domain it guards.
    """

    def __init__(self, in_channels: int, base_channels: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        if n_layers < 1:
            raise GankitError(f"config key 'model.d_layers': a PatchGAN needs at least 1 layer, got {n_layers}")
        bias = conv_bias(norm)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, base_channels, 4, 2, 1), nn.LeakyReLU(LEAK, True)]
        channels = base_channels
        for n in range(1, n_layers + 1):
            out = base_channels * min(2**n, 8)
            stride = 2 if n < n_layers else 1  # the last hidden layer keeps the resolution
            layers += [nn.Conv2d(channels, out, 4, stride, 1, bias=bias), make_norm(norm, out), nn.LeakyReLU(LEAK, True)]
            channels = out
        layers.append(nn.Conv2d(channels, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)
        self.n_layers = n_layers
        init_weights_(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


def output_size(image_size: int, n_layers: int) -> int:
    """Side of the score map for ``image_size`` inputs: each 4x4 conv with padding 1 maps ``s -> (s - 2) // stride + 1``."""
    size = image_size
    for stride in [2] * n_layers + [1, 1]:
        size = (size - 2) // stride + 1 if size >= 2 else 0
    return size


def check_patchgan_input(image_size: int, n_layers: int) -> None:
    """GankitError when ``image_size`` images would shrink to nothing in a PatchGAN of ``n_layers``."""
    if output_size(image_size, n_layers) < 1:
        smallest = next(s for s in range(2, 1 << 16) if output_size(s, n_layers) >= 1)
        raise GankitError(
            f"{image_size} px images are too small for a PatchGAN with model.d_layers={n_layers} "
            f"(needs >= {smallest} px): lower model.d_layers or raise data.image_size"
        )
