"""What the loop records about its samples over training, by kind of data.

Vector data: a scatter of samples over the data (with the critic's surface for 2-D data) and the
toy-lab metrics (modes captured, % high quality). Images: a grid from a fixed z.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.data.base import Dataset
from gankit.grids import save_grid
from gankit.metrics.toy import mode_statistics

GRID_SIZE = 64


@torch.no_grad()
def _generate(sampler: nn.Module, z: Tensor, labels: Tensor | None) -> Tensor:
    was_training = sampler.training
    sampler.eval()
    try:
        return sampler(z, labels if sampler.num_classes else None)
    finally:
        sampler.train(was_training)


def quick_metrics(dataset: Dataset, sampler: nn.Module, z: Tensor, labels: Tensor | None) -> dict:
    """Cheap metrics logged during training (mode coverage for mixtures; nothing for other data)."""
    modes = getattr(dataset, "modes", None)
    if modes is None:
        return {}
    stats = mode_statistics(_generate(sampler, z, labels), modes, dataset.mode_std)
    return {"modes": stats["modes"], "hq_fraction": stats["hq_fraction"]}


def write_snapshot(path: Path, dataset: Dataset, sampler: nn.Module, critic: nn.Module, z: Tensor, real: Tensor, labels: Tensor | None) -> None:
    if dataset.is_image:
        save_grid(_generate(sampler, z[:GRID_SIZE], labels[:GRID_SIZE] if labels is not None else None), path, nrow=8)
        return
    from gankit import plots  # matplotlib only when vector snapshots are drawn

    fake = _generate(sampler, z, labels)
    title = f"{dataset.name}: {path.stem}"
    if dataset.shape == (2,):
        def critic_fn(points: Tensor) -> Tensor:
            was_training = critic.training
            critic.eval()
            try:
                return critic(points.to(real.device)).flatten()
            finally:
                critic.train(was_training)

        plots.critic_surface(critic_fn, fake.cpu(), real.cpu(), path, title=title)
    else:
        plots.scatter_samples(fake.cpu(), real=real.cpu(), modes=getattr(dataset, "modes", None), path=path, title=title)
