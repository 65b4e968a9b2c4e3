"""InfoGAN (Chen et al. 2016): interpretable latent codes learnt by maximising mutual information.

G's input is split into incompressible noise ``z'`` and codes ``c``: one categorical code
``c_cat ~ Cat(K)`` and ``m`` continuous codes ``c_i ~ U(-1, 1)``. A head Q on D's body (shared
convolutions, so Q costs almost nothing) predicts the codes from an image, and both players add

    λ·L_I(G, Q),   L_I = E_{c, x=G(z', c)}[−log Q(c|x)]   (the negative variational lower bound on I(c; G(z', c)), Eq. 4-5)

to their losses: ``−log Q(c_cat|x)`` is a cross-entropy over the K categories (weight
``model.info_weight``, λ=1 in the paper); the continuous codes use a unit-variance Gaussian Q,
``−log Q = ½‖c − μ(x)‖² + const`` (weight ``model.info_continuous_weight``, 0.1, smaller "to
ensure the differential entropy is on the same scale", Sec. 7). The training loop calls
``D.auxiliary_loss(z, fake)`` in both updates.

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
from gankit.nets.dcgan import LEAK, DCGANDiscriminator, DCGANGenerator, image_geometry

__all__ = ["LatentCodes", "InfoGANGenerator", "InfoGANDiscriminator", "build_infogan"]

_EDGE = 1e-6  # keeps Φ⁻¹ finite for codes at the ends of their range


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


class InfoGANGenerator(nn.Module):
    """G(z) = DCGAN generator of ``[noise, one_hot(c_cat), c_cont]``; unconditional (``num_classes`` 0)."""

    def __init__(self, codes: LatentCodes, channels: int, size: int, hidden: int = 64, batchnorm: bool = True):
        super().__init__()
        self.codes = codes
        self.z_dim = codes.z_dim
        self.noise_dim = codes.noise_dim  # the coordinates truncation may touch; the rest are codes
        self.num_classes = 0
        self.net = DCGANGenerator(codes.input_dim, channels, size, hidden, batchnorm)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(self.codes.generator_input(z))


class InfoGANDiscriminator(nn.Module):
    """D(x): the DCGAN discriminator; Q(c|x): a small head on D's last feature map."""

    def __init__(self, codes: LatentCodes, channels: int, size: int, hidden: int = 64, batchnorm: bool = False,
                 weight: float = 1.0, continuous_weight: float = 0.1, q_hidden: int = 128):  # fmt: skip
        super().__init__()
        self.codes = codes
        self.num_classes = 0
        self.weight = weight
        self.continuous_weight = continuous_weight
        self.base = DCGANDiscriminator(channels, size, hidden, batchnorm)
        self.q = nn.Sequential(
            nn.Flatten(),
            nn.Linear(self.base.feature_channels * 16, q_hidden),
            nn.LeakyReLU(LEAK, inplace=True),
            nn.Linear(q_hidden, codes.categories + codes.continuous),
        )

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.base(x)

    def predict_codes(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(logits over categories (N, K), means of the continuous codes (N, m))``."""
        out = self.q(self.base.features(x))
        return out[:, : self.codes.categories], out[:, self.codes.categories :]

    def auxiliary_loss(self, z: Tensor, fake: Tensor) -> Tensor:
        """``λ·CE(Q_cat(x), c_cat) + λ_cont·½·E‖c_cont − μ(x)‖²`` for fakes ``x = G(z)`` (module docstring)."""
        _, categorical, continuous = self.codes.split(z)
        logits, means = self.predict_codes(fake)
        loss = fake.new_zeros(())
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
    generator = InfoGANGenerator(codes, channels, size, model.g_hidden, model.g_batchnorm)
    discriminator = InfoGANDiscriminator(
        codes, channels, size, model.d_hidden, model.d_batchnorm, model.info_weight, model.info_continuous_weight
    )
    return generator, discriminator
