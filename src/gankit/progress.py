"""Progress bars (tqdm): shown by default only when stderr is a terminal, so logs and pipes get none."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tqdm import tqdm

    from gankit.config import Config


def wants_progress(progress: bool | None) -> bool:
    """``progress`` as asked, or, when ``None`` (the default everywhere), whether stderr is a terminal."""
    return sys.stderr.isatty() if progress is None else bool(progress)


def training_bar(config: Config, start: int, enabled: bool) -> tqdm | None:
    """The bar of a training loop over ``config.train.steps``, starting at ``start`` (a resumed run's step);
    ``None`` when not ``enabled``."""
    if not enabled:
        return None
    from tqdm import tqdm  # here: tqdm is only needed when a bar is shown

    return tqdm(total=config.train.steps, initial=start, desc=f"{config.recipe} on {config.data.name}", dynamic_ncols=True)
