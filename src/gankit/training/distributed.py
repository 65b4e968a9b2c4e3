"""Multi-process training with torch.distributed, launched by ``torchrun``.

``torchrun --nproc_per_node N -m gankit train ...`` sets RANK / WORLD_SIZE / LOCAL_RANK; gankit then
joins a process group (NCCL on GPUs, gloo on CPU), wraps G and D in DistributedDataParallel, gives
each rank its own random stream (its own batches: the data is sharded by sampling), and lets rank 0
alone write the run directory. Without those variables everything here is a no-op.

DDP and the gradient penalty: DDP does not all-reduce gradients computed by ``torch.autograd.grad``
(pytorch/pytorch#63812). The penalty takes its input gradients out of place in each process and
then ordinary ``backward()`` carries the penalty's parameter gradients to DDP's all-reduce, which
is the supported pattern; the penalty calls the unwrapped critic so that no extra DDP forward is
registered.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

from gankit.errors import GankitError


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, requested: torch.device) -> torch.device:
        """One GPU per process: cuda:LOCAL_RANK when training on CUDA."""
        if self.enabled and requested.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return requested

    def wrap(self, module: nn.Module, device: torch.device) -> nn.Module:
        if not self.enabled:
            return module
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)

    def mean(self, values: Tensor) -> Tensor:
        """Average a tensor over ranks (for logged losses)."""
        if self.enabled:
            dist.all_reduce(values, op=dist.ReduceOp.SUM)
            values /= self.world_size
        return values

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when ``flag`` is true on some rank (a stop request, say)."""
        if not self.enabled:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def gather_states(self, state: Tensor) -> list[Tensor]:
        """Every rank's RNG state, gathered to all ranks (rank 0 saves them)."""
        if not self.enabled:
            return [state]
        states: list = [None] * self.world_size
        dist.all_gather_object(states, state)
        return states

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def launched_rank() -> int:
    """This process's rank as torchrun describes it in the environment (0 for a single process)."""
    return int(os.environ["RANK"]) if int(os.environ.get("WORLD_SIZE", "1")) > 1 else 0


def init_distributed(device: torch.device) -> Distributed:
    """Join the process group torchrun describes (once per process); a no-op for a single process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    context = Distributed(launched_rank(), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(context.local_rank)
        dist.init_process_group(backend=backend)
    return context


def convert_sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Batch-norm statistics over the global batch (torch supports this on GPUs only)."""
    if device.type != "cuda":
        raise GankitError("config key 'model.sync_batchnorm': SyncBatchNorm needs CUDA devices (torch has no CPU version)")
    return nn.SyncBatchNorm.convert_sync_batchnorm(module)
