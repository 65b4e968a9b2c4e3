"""Vector arithmetic on a generator's inputs (Radford, Metz & Chintala 2016, DCGAN, Sec. 6.3 and Fig. 7).

A *concept* is the average input of a few samples that show it: the paper averages the z of three samples
("smiling woman", "neutral woman", "neutral man"), since single samples were unstable, and decodes
``A − B + C`` ("smiling man"). Here a concept is either

- chosen samples (by index into a previous ``gankit generate --out FILE.npz``, which stores their z and
  labels): ``z̄`` the mean of their latents and, for a conditional G, ``ē`` the mean of their class
  embeddings; or
- a class of a conditional G (``class:K``): its embedding ``e(K)`` with no z of its own; each column of the
  figure then draws one z, shared by every row, so a column is one "style" seen through each concept.

``A − B + C`` is taken part by part (``z̄_A − z̄_B + z̄_C`` and ``ē_A − ē_B + ē_C``). As in the paper's figure,
each column adds the same uniform noise in ``[−σ, σ]`` (σ = 0.25) to every row's z, so a column shows nearby
latents of each concept. A class embedding that is not any class's is decoded by a copy of G whose
embedding table holds the vectors asked for (G reads labels only through ``G.embed``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit.errors import GankitError

__all__ = ["Concept", "samples_concept", "class_concept", "combine", "decode_concepts", "ARITHMETIC_NOISE"]

ARITHMETIC_NOISE = 0.25  # Radford et al. 2016, Fig. 7: "uniform noise sampled with scale +-0.25"


@dataclass
class Concept:
    """A point of G's input space: a latent ``z`` ``(d,)`` (None: each column's own) and a class embedding (or None)."""

    z: Tensor | None
    embedding: Tensor | None

    def __sub__(self, other: Concept) -> Concept:
        return Concept(_part(self.z, other.z, torch.sub, "z"), _part(self.embedding, other.embedding, torch.sub, "embedding"))

    def __add__(self, other: Concept) -> Concept:
        return Concept(_part(self.z, other.z, torch.add, "z"), _part(self.embedding, other.embedding, torch.add, "embedding"))


def _part(a: Tensor | None, b: Tensor | None, op, name: str) -> Tensor | None:
    if (a is None) != (b is None):
        what = "chosen samples and classes" if name == "z" else "conditional and unconditional concepts"
        raise GankitError(f"concepts must all have a {name} or none: cannot mix {what}")
    return None if a is None else op(a, b)


def class_embedding(generator: nn.Module) -> nn.Embedding:
    """G's class embedding table; a GankitError if G is unconditional or reads labels another way."""
    embed = getattr(generator, "embed", None)
    if not getattr(generator, "num_classes", 0):
        raise GankitError("this generator is unconditional: concepts are sample indices, not classes")
    if not isinstance(embed, nn.Embedding):
        raise GankitError(f"{type(generator).__name__} has no class embedding table (G.embed) to do arithmetic on")
    return embed


def samples_concept(generator: nn.Module, z: Tensor, labels: Tensor | None) -> Concept:
    """The mean latent (and, for a conditional G, mean class embedding) of the samples ``(z, labels)``."""
    if z.dim() != 2 or z.shape[0] == 0:
        raise GankitError(f"a concept needs latents of shape (N >= 1, d), got {tuple(z.shape)}")
    if getattr(generator, "num_classes", 0):
        if labels is None:
            raise GankitError("this generator is conditional: the chosen samples need their labels")
        return Concept(z.mean(0), class_embedding(generator)(labels.to(z.device)).mean(0).detach())
    return Concept(z.mean(0), None)


def class_concept(generator: nn.Module, label: int) -> Concept:
    """Class ``label``'s embedding, without a z of its own."""
    embed = class_embedding(generator)
    if not 0 <= label < embed.num_embeddings:
        raise GankitError(f"class {label} is not one of this generator's classes 0..{embed.num_embeddings - 1}")
    return Concept(None, embed.weight[label].detach().clone())


def combine(a: Concept, b: Concept, c: Concept) -> Concept:
    """``A − B + C``."""
    return a - b + c


@torch.no_grad()
def decode_concepts(generator: nn.Module, concepts: list[Concept], columns: int, seed: int = 0,
                    noise: float = ARITHMETIC_NOISE) -> Tensor:
    """Images ``(rows·columns, C, H, W)``, row-major: row r decodes ``concepts[r]`` at each column's latent.

    Column j's latent is ``z + u_j`` (``u_j ~ U[−noise, noise]^d``, one per column, shared by the rows) for a
    concept with a z, or ``z_j ~ N(0, I)`` (shared by the rows) for a class concept.
    """
    if columns < 1:
        raise GankitError(f"columns must be >= 1, got {columns}")
    if noise < 0:
        raise GankitError(f"noise must be >= 0, got {noise}")
    device = next(generator.parameters()).device
    rng = torch.Generator(device=device).manual_seed(seed)
    d = generator.z_dim
    shared_z = torch.randn(columns, d, generator=rng, device=device)
    offsets = (torch.rand(columns, d, generator=rng, device=device) * 2 - 1) * noise
    z = torch.cat([shared_z if c.z is None else c.z.to(device) + offsets for c in concepts])
    if concepts[0].embedding is None:
        return generator(z)
    table = torch.stack([c.embedding.to(device) for c in concepts])
    decoder = copy.deepcopy(generator)
    decoder.embed = nn.Embedding.from_pretrained(table, freeze=True)
    return decoder(z, torch.arange(len(concepts), device=device).repeat_interleave(columns))
