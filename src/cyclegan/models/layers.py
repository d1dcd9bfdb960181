"""Building blocks shared by the generators and discriminators."""

from typing import Literal

import torch
from torch import nn

Norm = Literal["instance", "batch", "none"]


def norm_layer(kind: Norm, channels: int) -> nn.Module:
    """InstanceNorm without affine parameters (as the paper), BatchNorm, or nothing."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; expected instance, batch or none")


def uses_bias(kind: Norm) -> bool:
    # BatchNorm's shift makes a conv bias redundant; InstanceNorm without affine needs it.
    return kind != "batch"


class FloatTanh(nn.Module):
    """tanh computed in fp32: the generators' output (and so every loss on it) keeps full precision
    under bf16/fp16 autocast. Identical to nn.Tanh in fp32; no parameters, so state dicts are unchanged."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x.float())


class ReflectionPad2d(nn.ReflectionPad2d):
    """nn.ReflectionPad2d that returns its input's dtype under autocast.

    CPU autocast runs reflection padding in fp32, so in bf16 every padded conv would cast its activations
    to fp32 and back: memory traffic for nothing, as padding only copies values. Same parameters (none)
    and, in fp32, the same numbers as nn.ReflectionPad2d."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x)
