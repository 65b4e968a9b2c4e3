"""Optional TensorBoard output of a run: the logged scalars and the sample snapshots.

With ``train.tensorboard=true`` the loop hands every logged record to :class:`TensorBoardLog`,
which writes its numbers as scalars and the snapshot of that step (``samples/step-N.png``, if
one was written) as an image, under ``DIR/tensorboard`` (``tensorboard --logdir DIR``).
metrics.jsonl stays the record of truth; :func:`export_run` rebuilds the TensorBoard files of a
finished run from it. The ``tensorboard`` package is imported only when asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gankit.errors import GankitError

__all__ = ["TensorBoardLog", "open_tensorboard", "export_run", "TENSORBOARD_INSTALL"]

TENSORBOARD_INSTALL = "pip install tensorboard==2.21.0"


class TensorBoardLog:
    def __init__(self, run_path: str | Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise GankitError(f"train.tensorboard needs the tensorboard package: {TENSORBOARD_INSTALL}") from None
        self.run_path = Path(run_path)
        self.writer = SummaryWriter(str(self.run_path / "tensorboard"))

    def write(self, record: dict[str, Any]) -> None:
        """Scalars of ``record`` (numbers only) at ``record["step"]``, and that step's snapshot if it exists."""
        step = int(record["step"])
        for key, value in record.items():
            if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(key, value, step)
        snapshot = self.run_path / "samples" / f"step-{step:08d}.png"
        if snapshot.is_file():
            from PIL import Image

            with Image.open(snapshot) as image:
                pixels = np.asarray(image.convert("RGB"))
            self.writer.add_image("samples", pixels, step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def open_tensorboard(run_path: str | Path, enabled: bool) -> TensorBoardLog | None:
    """A :class:`TensorBoardLog` for the run when ``enabled``, else ``None``."""
    return TensorBoardLog(run_path) if enabled else None


def export_run(run_path: str | Path) -> Path:
    """Write ``DIR/tensorboard`` from a run's metrics.jsonl and samples/; returns that folder."""
    from gankit.training.run_dir import RunDir

    log = TensorBoardLog(run_path)
    try:
        for record in RunDir(Path(run_path)).read_metrics():
            if "step" in record and "event" not in record:
                log.write(record)
    finally:
        log.close()
    return Path(run_path) / "tensorboard"
