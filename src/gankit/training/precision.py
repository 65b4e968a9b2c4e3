"""Numeric precision and memory layout of the training step (``train.precision``, ``train.channels_last``).

- ``train.precision=bf16`` runs G's and D's forward passes under ``torch.autocast`` in bfloat16: matrix
  products and convolutions in bf16 (tensor cores on Ampere and later GPUs), while weights, gradients,
  optimiser states, losses and the gradient penalty's norms stay fp32. bf16 has fp32's exponent range,
  so no loss scaling is needed (fp16 would need a ``GradScaler``). The networks' outputs come back as fp32,
  so every loss sees fp32 scores.
- ``train.channels_last`` stores image nets' weights and batches as NHWC, the layout cuDNN's fastest
  convolution kernels (and oneDNN's on CPU) work in; the values are unchanged, the convolutions round
  differently. On 2 CPU cores it trains DCGAN 1.3-1.5x faster (benchmarks/bench_training.py): oneDNN's
  convolution kernels, forward and backward, run faster on NHWC tensors than on NCHW ones.

Both change speed, not the algorithm; fp32 with the default layout is the reference (on CPUs without bf16
hardware, bf16 is slower).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gankit.errors import GankitError


class AutocastForward:
    """Calls ``module`` under bf16 autocast and returns its floating outputs as fp32 (tensors or tuples)."""

    def __init__(self, module: nn.Module, device: torch.device):
        self.module = module
        self.device_type = device.type

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with torch.autocast(self.device_type, dtype=torch.bfloat16):
            out = self.module(*args, **kwargs)
        return _to_fp32(out)

    def __getattr__(self, name: str) -> Any:  # z_dim, num_classes, ... of the wrapped network
        return getattr(self.module, name)


def _to_fp32(out: Any) -> Any:
    if isinstance(out, Tensor):
        return out.float() if out.is_floating_point() else out
    if isinstance(out, tuple):
        return tuple(_to_fp32(item) for item in out)
    return out


def with_precision(module: nn.Module, precision: str, device: torch.device):
    """``module`` itself for fp32; for bf16 a callable running its forward under bf16 autocast.

    (``train.precision`` is checked against fp32 | bf16 where the config is validated.)
    """
    return AutocastForward(module, device) if precision == "bf16" else module


def check_channels_last(enabled: bool, shape: tuple[int, ...]) -> None:
    """channels_last is a layout of 4-D image batches; refuse it for anything else rather than ignore it."""
    if enabled and len(shape) != 3:
        raise GankitError(f"config key 'train.channels_last': needs image data (C, H, W), got examples of shape "
                          f"{tuple(shape)}")


def to_channels_last(x: Tensor) -> Tensor:
    """``x`` in NHWC memory layout (same values); a no-op for tensors that are not 4-D."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
