"""Packing (PacGAN, Lin et al. 2018): the discriminator judges m samples at once.

``PackedDiscriminator(inner, m)`` takes the usual flat batch of N = m·P examples and hands ``inner``
P packs: consecutive groups of m examples joined along the feature axis, ``(N, d) -> (P, m·d)`` for
vectors and ``(N, C, H, W) -> (P, m·C, H, W)`` (channels stacked) for images, as the paper's code
does. It returns one score per pack. Real packs hold only real samples and fake packs only fakes, so
every loss of :mod:`gankit.losses` applies unchanged to the P scores: a packed D sees the joint
distribution of m independent samples, where a generator that drops modes is easier to spot.

So that the training loop stays unaware of packing, ``data.batch_size`` counts *samples*: PacGAN's
batches of 100 packs of m samples are ``data.batch_size = 100·m`` here, and a batch must divide by m.
Two consequences to know: the gradient penalty interpolates sample by sample and penalises each
sample's share of its pack's gradient (PacGAN itself uses no penalty), and a packed critic has no
score for a single point (the 2-D snapshots draw no critic surface).
"""

from __future__ import annotations

from torch import Tensor, nn

from gankit.errors import GankitError


def packed_shape(shape: tuple[int, ...], pack: int) -> tuple[int, ...]:
    """The shape of one pack of ``pack`` examples of ``shape``: features (vectors) or channels (images) times m."""
    return (shape[0] * pack, *shape[1:])


def pack_examples(x: Tensor, pack: int) -> Tensor:
    """``(m·P, F, ...)`` -> ``(P, m·F, ...)``: consecutive groups of ``pack`` rows joined along axis 1."""
    if x.shape[0] % pack:
        raise GankitError(f"model.pack={pack}: a batch of {x.shape[0]} examples does not divide into packs of {pack} "
                          f"(make data.batch_size a multiple of {pack})")
    return x.reshape(x.shape[0] // pack, pack * x.shape[1], *x.shape[2:])


class PackedDiscriminator(nn.Module):
    """D_pack(x_1, ..., x_m) = inner(concat(x_1, ..., x_m)): one raw score per pack of ``pack`` examples."""

    def __init__(self, inner: nn.Module, pack: int):
        super().__init__()
        if pack < 2:
            raise GankitError(f"model.pack must be at least 2 to pack, got {pack}")
        self.inner = inner
        self.pack = pack
        self.num_classes = 0

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.inner(pack_examples(x, self.pack))
