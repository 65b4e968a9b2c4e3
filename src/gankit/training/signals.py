"""Stop a run cleanly on SIGINT/SIGTERM: finish the current step, checkpoint, exit with a message."""

from __future__ import annotations

import signal
import threading
from types import FrameType


class GracefulStop:
    """Context manager that turns SIGINT/SIGTERM into a flag the training loop polls once per step.

    A second signal while the first is being handled restores the default behaviour, so an impatient
    user can still kill the process. Outside the main thread (where Python cannot install handlers)
    it does nothing.
    """

    def __init__(self) -> None:
        self.requested: str | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested is not None:  # second signal: give up on a clean stop
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        self.requested = signal.Signals(signum).name

    def __enter__(self) -> "GracefulStop":
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
