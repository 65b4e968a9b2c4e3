"""Independent jobs in worker processes, each with its share of the CPU's threads.

The toy lab's MLPs are too small for intra-op threads: splitting a 128-wide matrix product, or an
element-wise pass over a few hundred kilobytes, over two threads costs nearly as much in wake-ups
and synchronisation as it saves. Independent trainings (the seed groups of ``gankit sweep``, the
recipes of the mode-collapse study) instead run side by side, one process per core, one thread
each. Measured on 2 cores, a 10-seed sweep split into two 5-seed groups trained 1.02-1.30x as fast as
the 10 seeds as one batched model on two threads (three pairs each of nsgan and wgan-gp, ring8).

Processes are spawned (not forked: a forked child inherits the parent's OpenMP thread pool in an
undefined state), so a job is a module-level function of picklable arguments.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import torch


def default_workers(device: torch.device, jobs: int) -> int:
    """Worker processes for ``jobs`` independent jobs: on CPU one per intra-op thread torch would use
    (``torch.get_num_threads()``: the cores, or ``OMP_NUM_THREADS``), at most one per job; on a GPU 1
    (one process keeps the device busy, and each extra one would pay its own CUDA start-up)."""
    if device.type != "cpu":
        return 1
    return max(1, min(torch.get_num_threads(), jobs))


def _set_threads(threads: int) -> None:
    torch.set_num_threads(threads)


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` spawned processes, each with ``torch.get_num_threads() // workers`` intra-op threads (at
    least 1), for callers that run several batches of jobs (:func:`run_jobs` ``pool=``) and would otherwise
    pay the processes' start-up (a few seconds: each imports torch) every time."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    threads = max(1, torch.get_num_threads() // workers)
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_set_threads, initargs=(threads,))


def run_jobs(function: Callable[..., Any], arguments: Sequence[tuple], workers: int,
             order: Sequence[int] | None = None, pool: ProcessPoolExecutor | None = None) -> list[Any]:
    """``[function(*args) for args in arguments]``, computed in ``workers`` spawned processes.

    The processes are a :func:`worker_pool`, started for this call, or ``pool`` if given (kept open).
    ``order`` is the submission order (e.g. longest job first, so that the workers finish together);
    results come back in the order of ``arguments`` whatever it is. A job's exception (a GankitError
    included) is re-raised here. With one worker, or one job, everything runs in this process.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1 or len(arguments) <= 1:
        return [function(*args) for args in arguments]
    order = list(range(len(arguments))) if order is None else list(order)
    if sorted(order) != list(range(len(arguments))):
        raise ValueError(f"order must be a permutation of 0..{len(arguments) - 1}, got {order}")
    with contextlib.nullcontext(pool) if pool is not None else worker_pool(workers) as executor:
        futures = {index: executor.submit(function, *arguments[index]) for index in order}
        return [futures[index].result() for index in range(len(arguments))]
