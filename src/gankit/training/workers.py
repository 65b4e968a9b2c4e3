"""Independent jobs in worker processes, each with its share of the CPU's threads.

The toy lab's MLPs are too small for intra-op threads: splitting a 128-wide matrix product, or an
element-wise pass over a few hundred kilobytes, over two threads costs nearly as much in wake-ups
and synchronisation as it saves. Independent trainings (the seed groups of ``gankit sweep``, the
recipes of the mode-collapse study) instead run side by side, one process per core, one thread
each. Measured on 2 cores, a 10-seed sweep split into two 5-seed groups trained 1.02-1.30x as fast as
the 10 seeds as one batched model on two threads (three pairs each of nsgan and wgan-gp, ring8).

Processes are spawned (not forked: a forked child inherits the parent's OpenMP thread pool in an
undefined state), so a job is a module-level function of picklable arguments.

Stopping: the workers run in a session of their own, so a terminal's Ctrl-C reaches only the parent,
which passes each SIGINT or SIGTERM it receives on to them as one SIGINT. A job that trains with
:func:`gankit.training.loop.train` then finishes its step, checkpoints and stops (a second signal kills
it); other jobs get a KeyboardInterrupt; jobs not yet begun are dropped. :func:`run_jobs` waits for
the jobs under way and then raises :class:`~gankit.errors.TrainingStopped`. When the parent dies
without passing anything on (kill -9), each worker notices within half a second, gives its job the same
SIGINT and exits when it ends: no orphan trains on, or waits for work forever.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, wait
from types import FrameType
from typing import Any

import torch

from gankit.errors import TrainingStopped

_PARENT_POLL_S = 0.5  # how often a worker checks that its parent lives
_POLL_S = 1.0  # how often run_jobs calls its poll while it waits


@contextlib.contextmanager
def single_cpu_thread(device: torch.device) -> Iterator[None]:
    """One intra-op thread on CPU while a toy study runs (the theory lab, the reproductions), restored afterwards.

    The lab's nets are tiny: splitting a 128-wide matmul over threads costs more in synchronisation
    than it saves, and on a machine shared with other processes it is 10-20x *slower* (measured:
    390 vs 21 Adam steps/s for a 3-layer 128-wide MLP, batch 256, 2 cores under load).
    """
    previous = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def default_workers(device: torch.device, jobs: int) -> int:
    """Worker processes for ``jobs`` independent jobs: on CPU one per intra-op thread torch would use
    (``torch.get_num_threads()``: the cores, or ``OMP_NUM_THREADS``), at most one per job; on a GPU 1
    (one process keeps the device busy, and each extra one would pay its own CUDA start-up)."""
    if device.type != "cpu":
        return 1
    return max(1, min(torch.get_num_threads(), jobs))


_job_running = threading.Event()  # in a worker: set while it runs a job
_stop_requested: Any = None  # in a worker: its pool's WorkerPool.stop_requested


class WorkerPool(ProcessPoolExecutor):
    """A process pool whose workers follow the stopping rules of the module docstring (see :func:`worker_pool`)."""

    def __init__(self, workers: int, threads: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop_requested = context.Event()  # set by the parent on a stop: jobs not yet begun are dropped
        super().__init__(max_workers=workers, mp_context=context, initializer=_start_worker,
                         initargs=(threads, os.getpid(), self.stop_requested))

    def worker_pids(self) -> list[int]:
        return list(self._processes or {})  # pid -> Process; the executor has no public accessor


def _start_worker(threads: int, parent: int, stop_requested: Any) -> None:
    """A worker's set-up: its share of the threads, and the stopping rules of the module docstring."""
    global _stop_requested
    _stop_requested = stop_requested
    torch.set_num_threads(threads)
    os.setsid()  # out of the terminal's process group: signals come from the parent, once each
    threading.Thread(target=_watch_parent, args=(parent,), name="gankit-parent-watch", daemon=True).start()


def _watch_parent(parent: int) -> None:
    """When ``parent`` dies (it was killed: a live one stops its workers itself), a job gets one SIGINT, as
    if the parent had passed one on (the job then exits, see :func:`_job`); an idle worker exits.
    (Polling, not prctl's PR_SET_PDEATHSIG, which fires once per exiting thread of a threaded parent.)"""
    while os.getppid() == parent:
        time.sleep(_PARENT_POLL_S)
    if _job_running.is_set():
        os.kill(os.getpid(), signal.SIGINT)
        while _job_running.is_set():  # it finishes its step and checkpoints
            time.sleep(_PARENT_POLL_S / 10)
    os._exit(1)  # (also if the SIGINT came as the job ended, and left the worker waiting for the next)


def worker_pool(workers: int) -> WorkerPool:
    """``workers`` spawned processes, each with ``torch.get_num_threads() // workers`` intra-op threads (at
    least 1), for callers that run several batches of jobs (:func:`run_jobs` ``pool=``) and would otherwise
    pay the processes' start-up (a few seconds: each imports torch) every time."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    return WorkerPool(workers, max(1, torch.get_num_threads() // workers))


def run_jobs(function: Callable[..., Any], arguments: Sequence[tuple], workers: int,
             order: Sequence[int] | None = None, pool: WorkerPool | None = None,
             poll: Callable[[], None] | None = None) -> list[Any]:
    """``[function(*args) for args in arguments]``, computed in ``workers`` spawned processes.

    The processes are a :func:`worker_pool`, started for this call, or ``pool`` if given (kept open).
    ``order`` is the submission order (e.g. longest job first, so that the workers finish together);
    results come back in the order of ``arguments`` whatever it is. A job's exception (a GankitError
    included) is re-raised here once every job has ended. A SIGINT or SIGTERM received meanwhile is
    passed on to the workers (see the module docstring) and raised as TrainingStopped when they have
    stopped. With one worker, or one job and no ``pool``, everything runs in this process, which handles its
    own signals. ``poll`` is called about once a second while the workers run (a progress bar, say).
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1 or (len(arguments) <= 1 and pool is None):
        return [function(*args) for args in arguments]
    order = list(range(len(arguments))) if order is None else list(order)
    if sorted(order) != list(range(len(arguments))):
        raise ValueError(f"order must be a permutation of 0..{len(arguments) - 1}, got {order}")
    with contextlib.nullcontext(pool) if pool is not None else worker_pool(workers) as executor:
        executor.stop_requested.clear()
        with _passing_signals_on(executor) as received:
            futures = {index: executor.submit(_job, function, arguments[index], os.getpid()) for index in order}
            while True:
                pending = wait(futures.values(), timeout=_POLL_S).not_done
                if poll:
                    poll()
                if not pending:
                    break
        if received:
            raise TrainingStopped(f"{received[0]} received: the worker processes stopped", received[0])
        return [futures[index].result() for index in range(len(arguments))]


def _job(function: Callable[..., Any], arguments: tuple, parent: int) -> Any:
    """``function(*arguments)`` in a worker, unless its pool is stopping; the worker exits afterwards if
    ``parent`` has died meanwhile: no one is left to read the result, and an orphaned pool worker would
    wait for more jobs forever."""
    if _stop_requested is not None and _stop_requested.is_set():
        raise TrainingStopped("stopped before it began", "SIGINT")
    _job_running.set()
    try:
        return function(*arguments)
    finally:
        _job_running.clear()
        if os.getppid() != parent:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)


@contextlib.contextmanager
def _passing_signals_on(executor: WorkerPool) -> Iterator[list[str]]:
    """While open, SIGINT and SIGTERM go on to ``executor``'s workers as SIGINT; yields the names received.

    A third signal gets the previous handlers' behaviour (a stuck worker must not make the parent unkillable).
    """
    received: list[str] = []
    if threading.current_thread() is not threading.main_thread():  # Python installs handlers there only
        yield received
        return

    def pass_on(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        executor.stop_requested.set()
        for pid in executor.worker_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)
        if len(received) >= 2:
            for number, handler in previous.items():
                signal.signal(number, handler)

    previous = {number: signal.signal(number, pass_on) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
