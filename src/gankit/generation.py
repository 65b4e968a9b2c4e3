"""Sampling from a finished run, with nothing but its run directory.

``gankit.load(DIR).generate(n, seed=0)`` rebuilds the generator from ``config.json`` and
``run.json`` and loads ``generator.safetensors`` (the EMA weights when the run kept them). No data
set and no training code path is touched, so a copied run directory works on any machine.

Every generator takes ``z ~ N(0, I)`` (InfoGAN's codes are coordinates of z, see
:mod:`gankit.nets.infogan`), so the same tools apply to all:

- labels for a conditional G; categorical / continuous codes for an InfoGAN;
- the truncation trick: noise coordinates drawn from N(0, 1) truncated to ``[-ψ, ψ]`` (Brock et al.
  2019, BigGAN, Sec. 3.1): less variety, more typical samples;
- interpolation strips between two latents, linear or spherical (:func:`slerp`, White 2016,
  "Sampling Generative Networks": a Gaussian latent's norm concentrates near ``√d``, which a
  straight line between two latents leaves, a great circle does not).

The same seed gives the same samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.config import Config
from gankit.errors import GankitError
from gankit.nets import build_networks, sample_latent
from gankit.training.run_dir import RunDir

__all__ = ["TrainedGenerator", "Samples", "load", "lerp", "slerp", "interpolation_path", "truncated_normal", "INTERPOLATIONS"]

INTERPOLATIONS = ("lerp", "slerp")


def lerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """``(1 − t)·z0 + t·z1`` for each ``t``: ``z0, z1`` of shape ``(N, d)``, ``t`` of shape ``(T,)`` -> ``(N, T, d)``."""
    t = t.to(z0)[None, :, None]
    return z0[:, None] + (z1 - z0)[:, None] * t


def slerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation ``sin((1−t)ω)/sin ω · z0 + sin(tω)/sin ω · z1``, ``cos ω = ⟨z0, z1⟩/(‖z0‖‖z1‖)``.

    Shapes as :func:`lerp`; falls back to :func:`lerp` for (nearly) parallel pairs, where ``sin ω → 0``.
    """
    cos = (z0 * z1).sum(1) / (z0.norm(dim=1) * z1.norm(dim=1)).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))[:, None, None]
    sin = torch.sin(omega)
    t = t.to(z0)[None, :, None]
    spherical = (torch.sin((1 - t) * omega) * z0[:, None] + torch.sin(t * omega) * z1[:, None]) / sin.clamp_min(1e-12)
    return torch.where(sin > 1e-6, spherical, lerp(z0, z1, t.flatten()))


def interpolation_path(z0: Tensor, z1: Tensor, steps: int, mode: str = "slerp") -> Tensor:
    """``steps`` latents from ``z0`` to ``z1`` (both ends included) per pair: ``(N, steps, d)``."""
    if mode not in INTERPOLATIONS:
        raise GankitError(f"unknown interpolation {mode!r} (valid: {', '.join(INTERPOLATIONS)})")
    if steps < 2:
        raise GankitError(f"an interpolation needs at least 2 steps, got {steps}")
    t = torch.linspace(0, 1, steps, device=z0.device)
    return (lerp if mode == "lerp" else slerp)(z0, z1, t)


def truncated_normal(shape: tuple[int, ...], psi: float, generator: torch.Generator, device: torch.device) -> Tensor:
    """N(0, 1) conditioned on ``|z| <= ψ``, by inverse CDF: ``Φ⁻¹(Φ(−ψ) + u·(Φ(ψ) − Φ(−ψ)))``, ``u ~ U(0, 1)``."""
    if not psi > 0:
        raise GankitError(f"truncation must be > 0, got {psi}")
    low = torch.special.ndtr(torch.tensor(-psi, dtype=torch.float64))
    u = torch.rand(shape, generator=generator, device=device, dtype=torch.float64)
    return torch.special.ndtri(low + u * (1 - 2 * low)).clamp(-psi, psi).float()


@dataclass
class Samples:
    """Generated examples and what they were made from."""

    images: Tensor  # (N, C, H, W) in [-1, 1], or (N, d) vectors
    z: Tensor
    labels: Tensor | None = None  # conditional G
    categorical: Tensor | None = None  # InfoGAN codes
    continuous: Tensor | None = None


def _cycle(values: Tensor | Sequence | int | float, n: int, device: torch.device, dtype=torch.long) -> Tensor:
    """``values`` repeated to length ``n`` (a scalar or a list of per-sample values, cycled)."""
    values = torch.as_tensor(values, device=device, dtype=dtype).flatten()
    if values.numel() == 0:
        raise GankitError("an empty list of labels/codes was given")
    return values.repeat((n + values.numel() - 1) // values.numel())[:n]


@dataclass
class TrainedGenerator:
    config: Config
    generator: nn.Module
    shape: tuple[int, ...]
    num_classes: int  # labels G is conditioned on (0 = unconditional, even on labelled data)
    device: torch.device

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3

    @property
    def codes(self):
        """InfoGAN's :class:`~gankit.nets.infogan.LatentCodes`, or ``None``."""
        return getattr(self.generator, "codes", None)

    def latents(
        self,
        n: int,
        seed: int = 0,
        labels=None,
        categorical=None,
        continuous=None,
        truncation: float | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """``(z, labels)`` for ``n`` samples: z ~ N(0, I) (truncated if asked), codes written in, labels checked."""
        if n <= 0:
            raise GankitError(f"number of samples must be positive, got {n}")
        rng = torch.Generator(device=self.device).manual_seed(seed)
        z = sample_latent(n, self.generator.z_dim, rng, self.device)
        if truncation is not None:
            noise_dim = getattr(self.generator, "noise_dim", self.generator.z_dim)
            z[:, :noise_dim] = truncated_normal((n, noise_dim), truncation, rng, self.device)
        if self.num_classes:
            labels = torch.randint(self.num_classes, (n,), generator=rng, device=self.device) if labels is None else _cycle(labels, n, self.device)
            if labels.min() < 0 or labels.max() >= self.num_classes:
                raise GankitError(f"labels must be in [0, {self.num_classes - 1}], got {labels.unique().tolist()}")
        elif labels is not None:
            raise GankitError("this generator is unconditional: labels cannot be given")
        if categorical is not None or continuous is not None:
            if self.codes is None:
                raise GankitError("only InfoGAN generators have codes (this run's model.arch is not 'infogan')")
            if categorical is not None:
                categorical = _cycle(categorical, n, self.device)
            if continuous is not None:
                continuous = torch.as_tensor(continuous, device=self.device, dtype=z.dtype)
                if continuous.shape[-1:] != (self.codes.continuous,):
                    raise GankitError(f"this InfoGAN has {self.codes.continuous} continuous codes, got {continuous.shape[-1] if continuous.dim() else 1} values")
            z = self.codes.with_codes(z, categorical, continuous)
        return z, labels

    @torch.no_grad()
    def from_latents(self, z: Tensor, labels: Tensor | None = None, batch_size: int = 1024) -> Tensor:
        """G(z, labels), in batches."""
        chunks = [
            self.generator(z[i : i + batch_size], labels[i : i + batch_size] if labels is not None else None)
            for i in range(0, z.shape[0], batch_size)
        ]
        return torch.cat(chunks)

    def sample(self, n: int, seed: int = 0, labels=None, categorical=None, continuous=None,
               truncation: float | None = None, batch_size: int = 1024) -> Samples:  # fmt: skip
        """``n`` samples with their latents, labels and codes (see :meth:`generate`)."""
        z, labels = self.latents(n, seed, labels, categorical, continuous, truncation)
        images = self.from_latents(z, labels, batch_size)
        codes = self.codes.split(z) if self.codes is not None else (None, None, None)
        return Samples(images, z, labels, codes[1], codes[2] if self.codes is not None and self.codes.continuous else None)

    def generate(self, n: int, seed: int = 0, labels=None, categorical=None, continuous=None,
                 truncation: float | None = None, batch_size: int = 1024) -> Tensor:  # fmt: skip
        """``n`` samples (vectors, or images in [-1, 1]); the same seed gives the same samples.

        ``labels``: a label or a list cycled over the samples (conditional G; random when omitted).
        ``categorical``: InfoGAN categorical code(s), cycled likewise; ``continuous``: the values of
        its continuous codes (one per code, or one row per sample), each in [-1, 1].
        ``truncation``: ψ of the truncation trick (noise coordinates only).
        """
        return self.sample(n, seed, labels, categorical, continuous, truncation, batch_size).images

    def interpolate(self, rows: int, steps: int, seed: int = 0, mode: str = "slerp", labels=None,
                    categorical=None, continuous=None, truncation: float | None = None) -> Samples:  # fmt: skip
        """``rows`` strips of ``steps`` samples each, walking from one latent to another (row-major).

        A strip keeps its label and (if given) its codes, so only the noise changes along it.
        """
        # Both ends of strip r get the r-th label / code: cycle over the rows, then repeat for the ends.
        if labels is not None:
            labels = _cycle(labels, rows, self.device).repeat(2)
        if categorical is not None:
            categorical = _cycle(categorical, rows, self.device).repeat(2)
        if continuous is not None:
            continuous = torch.as_tensor(continuous, dtype=torch.float32, device=self.device)
            continuous = continuous.repeat(2, 1) if continuous.dim() == 2 else continuous
        z, row_labels = self.latents(2 * rows, seed, labels, categorical, continuous, truncation)
        path = interpolation_path(z[:rows], z[rows:], steps, mode).reshape(rows * steps, -1)
        if self.codes is not None and (categorical is not None or continuous is not None):
            # Codes asked for are constants: interpolation must not move them (slerp would).
            start_codes = self.codes.split(z[:rows])
            path = self.codes.with_codes(
                path,
                start_codes[1].repeat_interleave(steps) if categorical is not None else None,
                start_codes[2].repeat_interleave(steps, dim=0) if continuous is not None else None,
            )
        labels_path = row_labels[:rows].repeat_interleave(steps) if row_labels is not None else None
        images = self.from_latents(path, labels_path)
        codes = self.codes.split(path) if self.codes is not None else (None, None, None)
        return Samples(images, path, labels_path, codes[1], codes[2] if self.codes is not None and self.codes.continuous else None)


def load(run_dir: str | Path, device: str | torch.device | None = None, weights: str | None = None) -> TrainedGenerator:
    """The sampling generator of the run in ``run_dir``: its EMA weights if it kept an EMA, else its final ones;
    ``weights="ema"`` or ``"final"`` asks for one of them (an error when the run has no EMA and "ema" is asked)."""
    run = RunDir(Path(run_dir))
    config = run.load_config()
    meta = run.load_meta()
    shape = tuple(meta["data_shape"])
    device = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    generator, _ = build_networks(config.model, shape, int(meta.get("num_classes", 0)))
    try:
        generator.load_state_dict(run.load_generator_state(weights))
    except RuntimeError as error:
        raise GankitError(f"{str(run.path)!r}: generator weights do not match its config ({str(error).splitlines()[0]})") from None
    generator.to(device).eval()
    return TrainedGenerator(config, generator, shape, int(getattr(generator, "num_classes", 0)), device)
