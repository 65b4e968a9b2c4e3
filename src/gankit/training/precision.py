"""Numeric precision and memory layout of the training step (``train.precision``, ``train.channels_last``).

- ``train.precision=bf16`` runs G's and D's forward passes under ``torch.autocast`` in bfloat16: matrix
  products and convolutions in bf16 (tensor cores on Ampere and later GPUs), while weights, gradients,
  optimiser states, losses and the gradient penalty's norms stay fp32. bf16 has fp32's exponent range,
  so no loss scaling is needed (fp16 would need a ``GradScaler``). The networks' outputs come back as fp32,
  so every loss sees fp32 scores.
- ``train.channels_last`` stores image nets' weights and batches as NHWC, the layout cuDNN's fastest
  convolution kernels (and oneDNN's on CPU) work in; the values are unchanged, the convolutions round
  differently. On 2 CPU cores it trains DCGAN 1.2-1.5x faster (benchmarks/bench_training.py): oneDNN's
  convolution kernels, forward and backward, run faster on NHWC tensors than on NCHW ones. Hence its
  default, ``auto``: NHWC for conv nets on images on CPU, NCHW on CUDA unless asked (unmeasured there).

Both change speed, not the algorithm (on CPUs without bf16 hardware, bf16 is slower).
"""

from __future__ import annotations

from typing import Any, Callable

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


def use_channels_last(mode: str, shape: tuple[int, ...], device: torch.device, convolutional: bool = True) -> bool:
    """Whether the run trains in NHWC, from ``train.channels_last`` (auto | on | off), the data and the nets.

    ``auto`` picks NHWC for convolutional nets on image data on CPU, where it was measured faster for every
    image recipe (1.04x InfoGAN, whose recipe sets ``off``, to 1.33x SAGAN; README, Speed), and NCHW elsewhere: an MLP
    on images would only pay for the copies, and on CUDA the layout's gain depends on the GPU and the
    precision and has not been measured here, so there it stays an explicit ``on``.
    ``on`` refuses data that is not images rather than ignore the setting.
    """
    is_image = len(shape) == 3
    if mode == "on" and not is_image:
        raise GankitError(f"config key 'train.channels_last': needs image data (C, H, W), got examples of shape "
                          f"{tuple(shape)}")
    return mode == "on" or (mode == "auto" and is_image and convolutional and device.type == "cpu")


def is_convolutional(*modules: nn.Module) -> bool:
    """Whether any of ``modules`` holds a 4-D weight (a 2-D convolution's), the only kind NHWC changes."""
    return any(p.dim() == 4 for module in modules for p in module.parameters())


def set_layout(mode: str, shape: tuple[int, ...], device: torch.device,
               *nets: nn.Module) -> tuple[bool, Callable[[Tensor], Tensor]]:
    """Put ``nets`` (in place) in the layout ``train.channels_last`` chooses for this data and device.

    Returns whether it is NHWC and what each batch goes through before the nets see it
    (:func:`to_channels_last`, or nothing).
    """
    nhwc = use_channels_last(mode, shape, device, is_convolutional(*nets))
    if not nhwc:
        return False, _unchanged
    for net in nets:
        net.to(memory_format=torch.channels_last)
    return True, to_channels_last


def _unchanged(x: Tensor) -> Tensor:
    return x


def to_channels_last(x: Tensor) -> Tensor:
    """``x`` in NHWC memory layout (same values); a no-op for tensors that are not 4-D."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
