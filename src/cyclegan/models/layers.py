"""Building blocks shared by the generators and discriminators."""

from typing import Literal

import torch
import torch.nn.functional as F_
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


def pad_to_multiple(
    x: torch.Tensor, multiple: int, *, min_size: int = 0, mode: Literal["reflect", "replicate"] | None = None
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (B, C, H, W) on the bottom and right so H and W are multiples of `multiple` (and >= `min_size`).

    Returns the padded tensor and the original (H, W), to crop the network's output back with [..., :H, :W].
    mode None: reflect, or replicate where the pad is not smaller than the side (reflect cannot pad more).
    The pad amounts are shape arithmetic (`(m - h % m) % m`), so a traced or exported graph stays dynamic
    in H and W (without `min_size`); the choice of mode is fixed when traced.
    """
    h, w = x.shape[-2], x.shape[-1]
    pad_h = (multiple - h % multiple) % multiple
    pad_w = (multiple - w % multiple) % multiple
    if min_size:
        pad_h = max(pad_h, -(-min_size // multiple) * multiple - h)
        pad_w = max(pad_w, -(-min_size // multiple) * multiple - w)
    if mode is None:
        if pad_h == 0 and pad_w == 0 and not torch.jit.is_tracing():  # a traced graph must pad any size
            return x, (h, w)
        mode = "reflect" if pad_h < h and pad_w < w else "replicate"  # (fixed at trace time)
    return F_.pad(x, [0, pad_w, 0, pad_h], mode=mode), (h, w)
