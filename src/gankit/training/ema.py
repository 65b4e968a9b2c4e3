"""Exponential moving average of the generator's weights.

θ_ema ← β·θ_ema + (1-β)·θ after each generator step (Karras et al. 2018; Yazıcı et al. 2019).
Sampling from θ_ema removes most of the step-to-step jitter of GAN training, which is what makes
toy modes sharp. Buffers (batch-norm statistics) are copied, not averaged.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self._source = model

    @torch.no_grad()
    def update(self) -> None:
        ema_params = list(self.model.parameters())
        params = [p.detach() for p in self._source.parameters()]
        # One fused call per step instead of a Python loop over tensors.
        torch._foreach_lerp_(ema_params, params, 1.0 - self.decay)
        for ema_buffer, buffer in zip(self.model.buffers(), self._source.buffers()):
            ema_buffer.copy_(buffer)

    def state_dict(self) -> dict:
        return self.model.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state)
