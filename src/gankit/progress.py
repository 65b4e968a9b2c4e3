"""Progress bars (tqdm): shown by default only when stderr is a terminal, so logs and pipes get none."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
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


@contextlib.contextmanager
def runs_bar(run_dirs: Sequence[Path], total_steps: int, desc: str, enabled: bool) -> Iterator[Callable[[], None] | None]:
    """One bar over the steps of runs that train in worker processes (which show none), read from their
    ``metrics.jsonl`` whenever the yielded poll is called (``run_jobs(poll=)``); yields None when not ``enabled``
    or there is nothing to show. ``total_steps`` is the steps of all runs together."""
    if not enabled or not run_dirs:
        yield None
        return
    from tqdm import tqdm

    from gankit.training.run_dir import RunDir  # here: gankit.training imports this module

    def steps_done() -> int:
        return sum(max((r.get("step", 0) for r in RunDir(Path(path)).read_metrics()), default=0) for path in run_dirs)

    with tqdm(total=total_steps, initial=steps_done(), unit="step", desc=desc, dynamic_ncols=True) as bar:
        def poll() -> None:
            bar.update(steps_done() - bar.n)

        yield poll
