"""``train.compile``: the training step's forward passes compiled with ``torch.compile`` (TorchInductor).

Inductor fuses the element-wise work between the products (batch norm, LeakyReLU, bias and their
backward passes) into a few generated kernels. Measured on 2 CPU cores (benchmarks/bench_training.py):
DCGAN's steps run faster after a compile of about 30 s (a few seconds once inductor's on-disk cache is
warm), while toy MLPs, whose time is in the matrix products, run slower; so it is off by default.

Modes are torch's: ``default``; ``reduce-overhead`` (on CUDA, CUDA graphs: the step's kernels replayed
without a launch each, for launch-bound small nets; on CPU the same as ``default``); ``max-autotune``
(also benchmarks kernel variants while compiling: a much longer compile).

The gradient penalty differentiates D twice (``create_graph=True``), which compiled graphs do not support,
so its pass runs the eager D; the weights are the same tensors either way. Compiled kernels round
differently from eager ones: a compiled run is reproducible and resumes exactly, but is not bit-identical
to the eager run of the same seed.
"""

from __future__ import annotations

import torch
from torch import nn


def compiled(module: nn.Module, mode: str) -> nn.Module:
    """``module`` itself for ``off``, else ``torch.compile(module, mode=mode)`` (same parameters, compiled forward).

    (``train.compile`` is checked against :data:`gankit.config.COMPILE_MODES` where the config is validated.)
    """
    return module if mode == "off" else torch.compile(module, mode=mode)


def begin_step(mode: str) -> None:
    """Mark the start of a training step for CUDA graphs (``reduce-overhead``): outputs of the previous step's
    graph replays may then be overwritten, which is safe because the loop keeps none of them."""
    if mode == "reduce-overhead":
        torch.compiler.cudagraph_mark_step_begin()
