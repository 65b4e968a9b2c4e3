"""Exponential moving average of the generator's weights.

θ_ema ← β_n·θ_ema + (1-β_n)·θ after the n-th generator step (Karras et al. 2018; Yazıcı et al. 2019),
with the warm-up β_n = min(β, (1+n)/(10+n)) of TensorFlow's ExponentialMovingAverage: without it the
average still holds β^n of the random initial weights (37% after 1000 steps at β = 0.999), which ruins
short runs. Sampling from θ_ema removes most of the step-to-step jitter of GAN training. Buffers
(batch-norm statistics) are copied, not averaged.
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
        self.updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self._source = model

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self) -> None:
        beta = self.current_decay()
        self.updates += 1
        ema_params = list(self.model.parameters())
        params = [p.detach() for p in self._source.parameters()]
        # One fused call per step instead of a Python loop over tensors.
        torch._foreach_lerp_(ema_params, params, 1.0 - beta)
        for ema_buffer, buffer in zip(self.model.buffers(), self._source.buffers()):
            ema_buffer.copy_(buffer)

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "updates": torch.tensor(self.updates)}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])
