"""Sampling from a finished run, with nothing but its run directory.

``gankit.load(DIR).generate(n, seed=0)`` rebuilds the generator from ``config.json`` and
``run.json`` and loads ``generator.safetensors`` (the EMA weights when the run kept them). No data
set and no training code path is touched, so a copied run directory works on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.config import Config
from gankit.errors import GankitError
from gankit.nets import build_networks, sample_latent
from gankit.training.run_dir import RunDir


@dataclass
class TrainedGenerator:
    config: Config
    generator: nn.Module
    shape: tuple[int, ...]
    num_classes: int
    device: torch.device

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3

    @torch.no_grad()
    def generate(self, n: int, seed: int = 0, labels: Tensor | list[int] | None = None, batch_size: int = 1024) -> Tensor:
        """``n`` samples (vectors, or images in [-1, 1]); the same seed gives the same samples."""
        if n <= 0:
            raise GankitError(f"number of samples must be positive, got {n}")
        rng = torch.Generator(device=self.device).manual_seed(seed)
        z = sample_latent(n, self.generator.z_dim, rng, self.device)
        if self.num_classes:
            if labels is None:
                labels = torch.randint(self.num_classes, (n,), generator=rng, device=self.device)
            labels = torch.as_tensor(labels, device=self.device).long().flatten()
            if labels.numel() != n:
                labels = labels.repeat((n + labels.numel() - 1) // labels.numel())[:n]
            if labels.min() < 0 or labels.max() >= self.num_classes:
                raise GankitError(f"labels must be in [0, {self.num_classes - 1}], got {labels.unique().tolist()}")
        elif labels is not None:
            raise GankitError("this generator is unconditional: labels cannot be given")
        chunks = [
            self.generator(z[i : i + batch_size], labels[i : i + batch_size] if labels is not None else None)
            for i in range(0, n, batch_size)
        ]
        return torch.cat(chunks)


def load(run_dir: str | Path, device: str | torch.device | None = None) -> TrainedGenerator:
    """The sampling generator of the run in ``run_dir``."""
    run = RunDir(Path(run_dir))
    config = run.load_config()
    meta = run.load_meta()
    shape = tuple(meta["data_shape"])
    device = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    generator, _ = build_networks(config.model, shape, int(meta.get("num_classes", 0)))
    try:
        generator.load_state_dict(run.load_generator_state())
    except RuntimeError as error:
        raise GankitError(f"{str(run.path)!r}: generator weights do not match its config ({str(error).splitlines()[0]})") from None
    generator.to(device).eval()
    return TrainedGenerator(config, generator, shape, int(meta.get("num_classes", 0)), device)
