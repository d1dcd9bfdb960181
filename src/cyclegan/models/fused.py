"""Faster forms of a generator's layers for CPUs computing in fp32 (AVX2 without native bf16), with the same
numbers (float64 agreement ~1e-12) and the same parameters: `fuse_layers` converts a built, trained or
restored network in place, and its state_dict keys and tensors stay as they were (checkpoints unchanged).

- InstanceNorm (no affine, no running statistics) as `F.group_norm` with one group per channel: the same
  statistics, a faster CPU kernel than instance_norm's (which goes through batch_norm on a reshaped view).
- nearest x2 upsampling, reflection padding 1 and a 3x3 conv (the `resize` decoder) as one 2x2 conv at the
  low resolution with 4x the output channels, one per output phase, then a pixel shuffle (sub-pixel
  convolution, Shi et al. 2016): nearest upsampling repeats each pixel, so the 3x3 taps falling on the same
  source pixel add up (4/9 of the multiply-adds, on a quarter of the pixels); reflection padding of the
  upsampled image is replicate padding of the source.
- a conv to few channels (a generator's last conv, 3 outputs) as the transposed conv of its flipped kernel:
  oneDNN's kernels for 3 output channels leave most of a vector register empty; the transposed form runs
  the wide side as output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F_
from torch import nn

from .layers import ReflectionPad2d

# Which 3x3 taps (rows or columns) land on the 2 source pixels of a 2x2 window, per output phase 0 and 1:
# phase 0 (even output row 2i) reads source rows i-1 (tap 0) and i (taps 1, 2); phase 1 reads i (taps 0, 1)
# and i+1 (tap 2).
_FOLD = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], [[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])  # (phase, 2, 3)


class GroupInstanceNorm(nn.InstanceNorm2d):
    """InstanceNorm2d(affine=False, track_running_stats=False) computed by group_norm, one group per channel.
    (B, C, H, W) -> the same shape; no parameters or buffers."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F_.group_norm(x, x.shape[1], eps=self.eps)


class ThinConv2d(nn.Conv2d):
    """A stride-1 conv computed as conv_transpose2d with the kernel flipped and its in/out swapped (the same
    sums); for convs to a few channels. Same parameters as the nn.Conv2d it was."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        pad = [k - 1 - p for k, p in zip(self.kernel_size, self.padding)]
        return F_.conv_transpose2d(x, weight.flip(2, 3).transpose(0, 1), bias, padding=pad)


def subpixel_weight(weight: torch.Tensor) -> torch.Tensor:
    """A 3x3 conv weight (C_out, C_in, 3, 3) folded into the 2x2 weights of its 4 output phases:
    (4 C_out, C_in, 2, 2), ordered channel-major (c * 4 + 2 * row phase + column phase) for pixel_shuffle."""
    fold = _FOLD.to(weight)
    w = torch.einsum("apk,bql,oikl->oabipq", fold, fold, weight)  # (C_out, 2, 2, C_in, 2, 2)
    return w.reshape(-1, weight.shape[1], 2, 2)


class SubpixelUpConv(nn.Module):
    """nearest x2 up, reflection pad 1, conv 3x3 (stride 1): (B, C_in, H, W) -> (B, C_out, 2H, 2W), computed
    at the low resolution. Holds the original conv's `weight` and `bias` Parameters (same state_dict keys)."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.weight = conv.weight
        self.bias = conv.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.repeat_interleave(4)
        y = F_.conv2d(F_.pad(x, [1, 1, 1, 1], mode="replicate"), subpixel_weight(self.weight), bias)
        b, c4, h1, w1 = y.shape  # (B, 4 C_out, H + 1, W + 1): phase (r, s) is y[..., r : r + H, s : s + W]
        h, w = h1 - 1, w1 - 1
        y = y.view(b, c4 // 4, 2, 2, h1, w1)
        rows = [torch.stack([y[:, :, r, s, r : r + h, s : s + w] for s in (0, 1)], -1) for r in (0, 1)]
        return torch.stack(rows, 3).reshape(b, c4 // 4, 2 * h, 2 * w)  # (B, C, H, 2, W, 2) interleaved


def _is_plain_instance_norm(m: nn.Module) -> bool:
    return isinstance(m, nn.InstanceNorm2d) and not m.affine and not m.track_running_stats


def _is_thin_conv(m: nn.Module) -> bool:
    """A plain (not reparametrised) stride-1 conv from many channels to a few, with zero padding < kernel."""
    return (
        type(m) is nn.Conv2d
        and m.out_channels <= 4
        and m.in_channels >= 8
        and m.stride == (1, 1)
        and m.dilation == (1, 1)
        and m.groups == 1
        and m.padding_mode == "zeros"
        and isinstance(m.padding, tuple)
        and all(p < k for p, k in zip(m.padding, m.kernel_size))
    )


def _is_resize_conv(a: nn.Module, b: nn.Module, c: nn.Module) -> bool:
    return (
        isinstance(a, nn.Upsample)
        and a.mode == "nearest"
        and a.scale_factor in (2, 2.0, (2, 2), (2.0, 2.0))
        and isinstance(b, nn.ReflectionPad2d | ReflectionPad2d)
        and tuple(b.padding) == (1, 1, 1, 1)
        and isinstance(c, nn.Conv2d)
        and c.kernel_size == (3, 3)
        and c.stride == (1, 1)
        and c.padding == (0, 0)
        and c.dilation == (1, 1)
        and c.groups == 1
        and c.padding_mode == "zeros"
    )


FUSIONS = ("norm", "subpixel", "thin")


def fuse_layers(net: nn.Module, kinds: tuple[str, ...] = FUSIONS) -> nn.Module:
    """Convert `net`'s InstanceNorms ("norm"), resize-conv decoders ("subpixel") and thin convs ("thin"), in any
    nn.Sequential, to their faster forms in place, keeping every parameter, buffer and state_dict key; returns
    `net`. Layers of other kinds stay."""
    for module in list(net.modules()):
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for i, name in enumerate(names):
            child = module._modules[name]
            if "norm" in kinds and _is_plain_instance_norm(child) and type(child) is nn.InstanceNorm2d:
                child.__class__ = GroupInstanceNorm  # same attributes, another forward
            elif "thin" in kinds and _is_thin_conv(child):
                child.__class__ = ThinConv2d
            elif (
                "subpixel" in kinds
                and i + 2 < len(names)
                and _is_resize_conv(*(module._modules[n] for n in names[i : i + 3]))
            ):
                conv = module._modules[names[i + 2]]
                module._modules[name] = nn.Identity()
                module._modules[names[i + 1]] = nn.Identity()
                module._modules[names[i + 2]] = SubpixelUpConv(conv)
    return net
