"""An exponential moving average of a network's weights (as in StyleGAN and Projected GAN).

GAN generators oscillate around a good solution from step to step; the average of their recent weights
sits nearer its centre, so it translates with less noise than the last raw weights. The average starts
close to the raw weights (its decay warms up as min(decay, (1 + step) / (10 + step))), so a short run
gains from it too.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """A frozen copy of `module` (same class, eval mode, no grads) whose weights follow the module's."""

    def __init__(self, module: nn.Module, decay: float):
        self.decay = decay
        self.module = copy.deepcopy(module).eval().requires_grad_(False)

    def decay_at(self, step: int) -> float:
        return min(self.decay, (1 + step) / (10 + step))

    @torch.no_grad()
    def update(self, module: nn.Module, step: int) -> None:
        """Move the average towards `module`'s current weights; buffers (BatchNorm statistics) are copied."""
        weight = 1.0 - self.decay_at(step)
        averaged = list(self.module.parameters())
        torch._foreach_lerp_(averaged, [p.detach() for p in module.parameters()], weight)
        for mine, theirs in zip(self.module.buffers(), module.buffers()):
            mine.copy_(theirs)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state)
