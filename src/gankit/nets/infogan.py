"""InfoGAN (Chen et al. 2016): interpretable latent codes learnt by maximising mutual information.

G's input is split into incompressible noise ``z'`` and codes ``c``: one categorical code
``c_cat ~ Cat(K)`` and ``m`` continuous codes ``c_i ~ U(-1, 1)``. A head Q on D's body (shared
convolutions, so Q costs almost nothing) predicts the codes from an image, and both players add

    λ·L_I(G, Q),   L_I = E_{c, x=G(z', c)}[−log Q(c|x)]   (the negative variational lower bound on I(c; G(z', c)), Eq. 4-5)

to their losses: ``−log Q(c_cat|x)`` is a cross-entropy over the K categories (weight
``model.info_weight``, λ=1 in the paper); the continuous codes use a unit-variance Gaussian Q,
``−log Q = ½‖c − μ(x)‖² + const`` (weight ``model.info_continuous_weight``, 0.1, smaller "to
ensure the differential entropy is on the same scale", Sec. 7). The training loop asks for it in
both updates with ``D(fake, latent=z)``, which returns ``(scores, L_I)`` from one pass through D's body.

Two families of nets (``model.info_body``): ``dcgan``, the all-convolutional DCGAN nets of
:mod:`gankit.nets.dcgan` with Q on D's last 4x4 map (close to the paper's SVHN and CelebA nets), and
``fc``, the paper's MNIST nets (Table 1) with fully connected layers next to the latent and the
scores (:class:`FCGenerator`, :class:`FCDiscriminator`). On MNIST the categorical code finds the
digits far more often with the ``fc`` nets than with the ``dcgan`` ones (code accuracy 0.66-0.94
over seeds 0-2 vs 0.45-0.51, after 3000 steps of 64, widths h = 32): the ``infogan`` recipe uses ``fc``.

Q reads D's features; whether L_I may also shape them is ``model.info_q_trains_body`` (true in the
paper). When it may not, Q must find the codes in features D learnt to tell real digits from fakes,
which makes digit identity the cheapest way for G to show its code: on MNIST the recipe's setting,
false, lifts code accuracy on the seeds where the paper's setting stalls (seed 1: 0.71 -> 0.81
after 4000 steps; seed 2: 0.59 -> 0.88 after 3000).

**The latent is still z ~ N(0, I).** The training loop, snapshots, interpolation and ``generate``
all draw standard normal latents; :class:`LatentCodes` turns the last ``1 + m`` coordinates into
codes by the probability integral transform (Φ = the normal CDF): ``c_cat = ⌊K·Φ(z_cat)⌋`` is
uniform on {0..K−1} and ``c_i = 2·Φ(z_i) − 1`` uniform on [−1, 1], exactly the paper's prior.
Codes are fixed at generation time by writing their inverse images into z (:meth:`LatentCodes.with_codes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.nets import register_arch
from gankit.nets.dcgan import LEAK, DCGANDiscriminator, DCGANGenerator, image_geometry, init_dcgan_weights

__all__ = ["LatentCodes", "FCGenerator", "FCDiscriminator", "InfoGANGenerator", "InfoGANDiscriminator", "build_infogan"]

_EDGE = 1e-6  # keeps Φ⁻¹ finite for codes at the ends of their range
FC_LEAK = 0.1  # LeakyReLU slope of the fc nets (the slope they were tuned with here; DCGAN's is 0.2)


@dataclass(frozen=True)
class LatentCodes:
    """Layout of InfoGAN's latent ``z = [noise (noise_dim), z_cat (1 if categories), z_cont (continuous)]``."""

    noise_dim: int
    categories: int  # K; 0 = no categorical code
    continuous: int  # m

    @property
    def z_dim(self) -> int:
        """Length of the standard normal latent the loop samples."""
        return self.noise_dim + (1 if self.categories else 0) + self.continuous

    @property
    def input_dim(self) -> int:
        """Length of G's network input: noise, one-hot category, continuous codes."""
        return self.noise_dim + self.categories + self.continuous

    def split(self, z: Tensor) -> tuple[Tensor, Tensor | None, Tensor]:
        """``(noise, c_cat (N,) long or None, c_cont (N, m) in [-1, 1])`` of latents ``z``."""
        noise, rest = z[:, : self.noise_dim], z[:, self.noise_dim :]
        categorical = None
        if self.categories:
            uniform = torch.special.ndtr(rest[:, 0])
            categorical = (uniform * self.categories).long().clamp_(0, self.categories - 1)
            rest = rest[:, 1:]
        return noise, categorical, 2 * torch.special.ndtr(rest) - 1

    def with_codes(self, z: Tensor, categorical: Tensor | None = None, continuous: Tensor | None = None) -> Tensor:
        """A copy of ``z`` whose codes are ``categorical`` (N,) and/or ``continuous`` (N, m), by inverse CDF."""
        z = z.clone()
        if categorical is not None:
            if not self.categories:
                raise GankitError("this InfoGAN has no categorical code (model.info_categorical = 0)")
            categorical = torch.as_tensor(categorical, device=z.device).long().expand(z.shape[0])
            if categorical.min() < 0 or categorical.max() >= self.categories:
                raise GankitError(f"categorical codes must be in [0, {self.categories - 1}], got {categorical.unique().tolist()}")
            z[:, self.noise_dim] = torch.special.ndtri((categorical.to(z.dtype) + 0.5) / self.categories)
        if continuous is not None:
            if not self.continuous:
                raise GankitError("this InfoGAN has no continuous codes (model.info_continuous = 0)")
            continuous = torch.as_tensor(continuous, device=z.device, dtype=z.dtype).expand(z.shape[0], self.continuous)
            if continuous.min() < -1 or continuous.max() > 1:
                raise GankitError(f"continuous codes must be in [-1, 1] (their prior's range), got {continuous.min().item():.3g}..{continuous.max().item():.3g}")
            start = self.noise_dim + (1 if self.categories else 0)
            z[:, start:] = torch.special.ndtri(((continuous + 1) / 2).clamp(_EDGE, 1 - _EDGE))
        return z

    def generator_input(self, z: Tensor) -> Tensor:
        """``[noise, one_hot(c_cat), c_cont]``."""
        noise, categorical, continuous = self.split(z)
        parts = [noise]
        if categorical is not None:
            parts.append(F.one_hot(categorical, self.categories).to(z.dtype))
        parts.append(continuous)
        return torch.cat(parts, dim=1)


def _fc_start(size: int) -> int:
    """Side of the fc nets' first feature map: two stride-2 convolutions from ``size`` px."""
    if size % 4:
        raise GankitError(f"model.info_body 'fc' needs an image size divisible by 4, got {size} px (set data.image_size)")
    return size // 4


def _dense(c_in: int, c_out: int, batchnorm: bool, activation: nn.Module) -> list[nn.Module]:
    # No bias before batch norm: BN's shift replaces it.
    return [nn.Linear(c_in, c_out, bias=not batchnorm), *([nn.BatchNorm1d(c_out)] if batchnorm else []), activation]


class FCGenerator(nn.Module):
    """The InfoGAN paper's MNIST generator (Chen et al. 2016, Table 1), widths scaled by ``hidden`` = h:

        input -> FC 16h -> FC 2h·(S/4)² -> 4x4 upconv h, stride 2 -> 4x4 upconv C, stride 2, tanh

    with batch norm and ReLU after every layer but the last (h = 64 is the paper's FC 1024, FC 7·7·128,
    upconv 64 at S = 28; the paper ends in a sigmoid, gankit's images are in [-1, 1]).
    """

    def __init__(self, input_dim: int, channels: int, size: int, hidden: int = 64, batchnorm: bool = True):
        super().__init__()
        start = _fc_start(size)
        self.net = nn.Sequential(
            *_dense(input_dim, 16 * hidden, batchnorm, nn.ReLU(inplace=True)),
            *_dense(16 * hidden, 2 * hidden * start * start, batchnorm, nn.ReLU(inplace=True)),
            nn.Unflatten(1, (2 * hidden, start, start)),
            nn.ConvTranspose2d(2 * hidden, hidden, 4, 2, 1, bias=not batchnorm),
            *([nn.BatchNorm2d(hidden)] if batchnorm else []),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(hidden, channels, 4, 2, 1),
            nn.Tanh(),
        )
        init_dcgan_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class FCDiscriminator(nn.Module):
    """The InfoGAN paper's MNIST discriminator body and D head (Table 1), widths scaled by ``hidden`` = h:

        image -> 4x4 conv h, stride 2 -> 4x4 conv 2h, stride 2, BN -> FC 16h, BN -> (features) -> FC 1

    with LeakyReLU after each hidden layer. ``features`` (N, 16h) is what Q shares.
    """

    def __init__(self, channels: int, size: int, hidden: int = 64, batchnorm: bool = True):
        super().__init__()
        start = _fc_start(size)
        self.feature_dim = 16 * hidden
        self.body = nn.Sequential(
            nn.Conv2d(channels, hidden, 4, 2, 1),
            nn.LeakyReLU(FC_LEAK, inplace=True),
            nn.Conv2d(hidden, 2 * hidden, 4, 2, 1, bias=not batchnorm),
            *([nn.BatchNorm2d(2 * hidden)] if batchnorm else []),
            nn.LeakyReLU(FC_LEAK, inplace=True),
            nn.Flatten(),
            *_dense(2 * hidden * start * start, self.feature_dim, batchnorm, nn.LeakyReLU(FC_LEAK, inplace=True)),
        )
        self.head = nn.Linear(self.feature_dim, 1)
        init_dcgan_weights(self)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x)).flatten()


class InfoGANGenerator(nn.Module):
    """G(z) = the ``body`` generator (dcgan or fc) of ``[noise, one_hot(c_cat), c_cont]``; unconditional."""

    def __init__(self, codes: LatentCodes, channels: int, size: int, hidden: int = 64, batchnorm: bool = True,
                 body: str = "dcgan"):  # fmt: skip
        super().__init__()
        self.codes = codes
        self.z_dim = codes.z_dim
        self.noise_dim = codes.noise_dim  # the coordinates truncation may touch; the rest are codes
        self.num_classes = 0
        if body == "fc":
            self.net = FCGenerator(codes.input_dim, channels, size, hidden, batchnorm)
        else:
            self.net = DCGANGenerator(codes.input_dim, channels, size, hidden, batchnorm)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(self.codes.generator_input(z))


class InfoGANDiscriminator(nn.Module):
    """D(x): the ``body`` discriminator (dcgan or fc); Q(c|x): a small head on D's shared features.

    Q is ``FC 128 -> LeakyReLU -> FC (K + m)``; on the fc body with batch norm after the first FC, as
    in the paper's Table 1 ("FC.128-batchnorm-lRELU-FC.output").

    ``q_trains_body`` (``model.info_q_trains_body``): in D's update, L_I's gradient reaches the shared
    body (the paper), or only Q's head, the body then learning from D's loss alone. Either way G's
    update sends L_I's gradient through the (frozen) body to G.
    """

    def __init__(self, codes: LatentCodes, channels: int, size: int, hidden: int = 64, batchnorm: bool = False,
                 weight: float = 1.0, continuous_weight: float = 0.1, q_hidden: int = 128, body: str = "dcgan",
                 q_trains_body: bool = True):  # fmt: skip
        super().__init__()
        self.codes = codes
        self.q_trains_body = q_trains_body
        self.num_classes = 0
        self.weight = weight
        self.continuous_weight = continuous_weight
        outputs = codes.categories + codes.continuous
        if body == "fc":
            self.base = FCDiscriminator(channels, size, hidden, batchnorm)
            self.q = nn.Sequential(
                *_dense(self.base.feature_dim, q_hidden, batchnorm, nn.LeakyReLU(FC_LEAK, inplace=True)),
                nn.Linear(q_hidden, outputs),
            )
        else:
            self.base = DCGANDiscriminator(channels, size, hidden, batchnorm)
            self.q = nn.Sequential(
                nn.Flatten(),
                nn.Linear(self.base.feature_channels * 16, q_hidden),
                nn.LeakyReLU(LEAK, inplace=True),
                nn.Linear(q_hidden, outputs),
            )

    def forward(self, x: Tensor, labels: Tensor | None = None, latent: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """D's scores ``(N,)``; given the ``latent`` z that generated ``x``, also ``auxiliary_loss(z, x)``.

        Both from one pass through the shared body: the training loop asks for the pair on every fake
        batch, which saves the body's second forward and backward (a third of D's work per step).
        """
        features = self.base.features(x)
        score = self.base.head(features).flatten()
        if latent is None:
            return score
        if not self.q_trains_body and any(p.requires_grad for p in self.base.parameters()):
            features = features.detach()  # D's update: L_I trains Q's head only (G's update, D frozen, keeps the path to G)
        return score, self._information_loss(latent, *self._codes(features))

    def _codes(self, features: Tensor) -> tuple[Tensor, Tensor]:
        out = self.q(features)
        return out[:, : self.codes.categories], out[:, self.codes.categories :]

    def predict_codes(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(logits over categories (N, K), means of the continuous codes (N, m))``."""
        return self._codes(self.base.features(x))

    def auxiliary_loss(self, z: Tensor, fake: Tensor) -> Tensor:
        """``λ·CE(Q_cat(x), c_cat) + λ_cont·½·E‖c_cont − μ(x)‖²`` for fakes ``x = G(z)`` (module docstring)."""
        return self._information_loss(z, *self.predict_codes(fake))

    def _information_loss(self, z: Tensor, logits: Tensor, means: Tensor) -> Tensor:
        _, categorical, continuous = self.codes.split(z)
        loss = logits.new_zeros(())
        if categorical is not None:
            loss = loss + self.weight * F.cross_entropy(logits, categorical)
        if self.codes.continuous:
            loss = loss + self.continuous_weight * 0.5 * ((continuous - means) ** 2).sum(dim=1).mean()
        return loss


@register_arch("infogan")
def build_infogan(model: ModelConfig, shape: tuple[int, ...], num_classes: int) -> tuple[nn.Module, nn.Module]:
    if model.conditional:
        raise GankitError("model.arch 'infogan' learns its own categories: model.conditional must be false")
    if not (model.info_categorical or model.info_continuous):
        raise GankitError("model.arch 'infogan' needs codes: model.info_categorical or model.info_continuous must be > 0")
    channels, size = image_geometry(shape)
    codes = LatentCodes(model.z_dim, model.info_categorical, model.info_continuous)
    generator = InfoGANGenerator(codes, channels, size, model.g_hidden, model.g_batchnorm, body=model.info_body)
    discriminator = InfoGANDiscriminator(
        codes, channels, size, model.d_hidden, model.d_batchnorm, model.info_weight, model.info_continuous_weight,
        body=model.info_body, q_trains_body=model.info_q_trains_body,
    )
    return generator, discriminator


class PlainFCGenerator(nn.Module):
    """:class:`FCGenerator` as an ordinary unconditional G(z): the MNIST nets of Lucic et al. 2018."""

    def __init__(self, z_dim: int, channels: int, size: int, hidden: int = 64, batchnorm: bool = True):
        super().__init__()
        self.z_dim = z_dim
        self.num_classes = 0
        self.net = FCGenerator(z_dim, channels, size, hidden, batchnorm)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(z)


class PlainFCDiscriminator(nn.Module):
    """:class:`FCDiscriminator` as an ordinary D(x): one raw score per image, no Q head."""

    def __init__(self, channels: int, size: int, hidden: int = 64, batchnorm: bool = True):
        super().__init__()
        self.num_classes = 0
        self.net = FCDiscriminator(channels, size, hidden, batchnorm)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(x)


@register_arch("infogan-fc")
def build_fc(model: ModelConfig, shape: tuple[int, ...], num_classes: int) -> tuple[nn.Module, nn.Module]:
    """The InfoGAN paper's MNIST nets without codes, the architecture "Are GANs Created Equal?" (Lucic et al.
    2018) trains every loss with on MNIST: G FC 1024 - FC 7x7x128 - deconv 64 - deconv 1; D conv 64 - conv 128 -
    FC 1024 - FC 1 (at ``model.g_hidden`` = ``model.d_hidden`` = 64)."""
    if model.conditional:
        raise GankitError("model.arch 'infogan-fc' is unconditional: set model.conditional=false")
    channels, size = image_geometry(shape)
    return (PlainFCGenerator(model.z_dim, channels, size, model.g_hidden, model.g_batchnorm),
            PlainFCDiscriminator(channels, size, model.d_hidden, model.d_batchnorm))
