"""What the loop records about its samples over training, by kind of data.

Vector data: a scatter of samples over the data (with the critic's surface for 2-D data) and the
toy-lab metrics (modes captured, % high quality). Images: a grid from a fixed z; for a conditional
generator one row per label (the same 8 z's in every row, so rows differ by label alone), for an
InfoGAN one row per value of the categorical code.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.data.base import Dataset
from gankit.grids import save_grid
from gankit.metrics.toy import mode_statistics

GRID_SIZE = 64
GRID_COLUMNS = 8
MAX_GRID_ROWS = 10


def grid_inputs(sampler: nn.Module, z: Tensor, labels: Tensor | None) -> tuple[Tensor, Tensor | None, int]:
    """``(z, labels, images per row)`` of a snapshot grid for ``sampler``.

    Conditional G: row r has label ``r·K // rows`` (all labels when K <= 10) and the columns share
    z. InfoGAN (``sampler.codes``): the same with the categorical code. Otherwise the first 64 z.
    """
    codes = getattr(sampler, "codes", None)
    classes = sampler.num_classes or (codes.categories if codes is not None else 0)
    if not classes:
        return z[:GRID_SIZE], (labels[:GRID_SIZE] if labels is not None else None), GRID_COLUMNS
    rows = min(classes, MAX_GRID_ROWS)
    row_values = torch.arange(rows, device=z.device) * classes // rows
    per_cell = row_values.repeat_interleave(GRID_COLUMNS)
    z = z[:GRID_COLUMNS].repeat(rows, 1)
    if sampler.num_classes:
        return z, per_cell, GRID_COLUMNS
    return codes.with_codes(z, categorical=per_cell), None, GRID_COLUMNS


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
        grid_z, grid_labels, columns = grid_inputs(sampler, z, labels)
        save_grid(_generate(sampler, grid_z, grid_labels), path, nrow=columns)
        return
    from gankit import plots  # matplotlib only when vector snapshots are drawn

    fake = _generate(sampler, z, labels)
    title = f"{dataset.name}: {path.stem}"
    # An ensemble has no single surface, a packed critic no score for one point.
    if dataset.shape == (2,) and getattr(critic, "ensemble_size", 1) == 1 and getattr(critic, "pack", 1) == 1:
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
