"""The pix2pix U-Net generator (`--generator unet`), in the reference implementation's module layout, so
its files (pix2pix, or CycleGAN with `--netG unet_256`) load one-to-one. Keys look like
`model.model.1.model.3.model.1.weight`: each level is a block whose `model` Sequential holds (down, [inner
block], up), and the outermost level's Sequential sits in `UnetGenerator.model.model`.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from .layers import FloatTanh, pad_for_generator

UnetNorm = Literal["instance", "batch"]


def _norm(kind: UnetNorm, channels: int, *, affine: bool) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.InstanceNorm2d(channels, affine=affine, track_running_stats=False)


class UnetBlock(nn.Module):
    """One level: 4x4 stride-2 conv down, the inner levels, 4x4 stride-2 transposed conv up; the input is
    concatenated to the output (except at the outermost level, which ends in tanh).

    Sequential indices, as in the reference: outermost (0 down, 1 inner, 3 up); middle (1 down, 2 norm,
    3 inner, 5 up, 6 norm, [7 dropout]); innermost (1 down, 3 up, 4 norm).
    """

    def __init__(
        self,
        outer: int,
        inner: int,
        *,
        in_channels: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        norm: UnetNorm = "batch",
        affine: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.outermost = outermost
        bias = norm == "instance"  # the reference drops conv biases only where BatchNorm follows
        down = nn.Conv2d(in_channels or outer, inner, 4, stride=2, padding=1, bias=bias)
        if outermost:
            up = nn.ConvTranspose2d(2 * inner, outer, 4, stride=2, padding=1)
            layers = [down, submodule, nn.ReLU(True), up, FloatTanh()]
        elif submodule is None:  # innermost: nothing to concatenate from below
            up = nn.ConvTranspose2d(inner, outer, 4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up, _norm(norm, outer, affine=affine)]
        else:
            up = nn.ConvTranspose2d(2 * inner, outer, 4, stride=2, padding=1, bias=bias)
            layers = [
                nn.LeakyReLU(0.2, True),
                down,
                _norm(norm, inner, affine=affine),
                submodule,
                nn.ReLU(True),
                up,
                _norm(norm, outer, affine=affine),
            ]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)  # (B, C_in + C_out, H, W): the skip connection


class UnetGenerator(nn.Module):
    """The reference U-Net: `num_downs` stride-2 levels (8 for `unet_256`, 7 for `unet_128`), widths
    ngf, 2 ngf, 4 ngf, then 8 ngf for the rest.

    Input (B, 3, H, W) in [-1, 1], any H and W: the network needs multiples of 2**num_downs, so it pads
    (bottom and right, as `layers.pad_for_generator` pads) and crops back itself; at multiples it computes
    exactly what the reference does. Output the same shape in [-1, 1]. `dropout`: in the 8 ngf levels between
    the three outer and the innermost ones (pix2pix: 0.5; none with 5 levels).
    """

    # translate.py pads to at least 2 x size_multiple; the U-Net pads itself (a 256 px image must stay
    # 256 px to match the reference), so it asks for nothing.
    size_multiple = 1

    def __init__(
        self, *, num_downs: int = 8, ngf: int = 64, norm: UnetNorm = "batch", affine: bool = False, dropout: float = 0.0
    ):
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"num_downs must be >= 5, got {num_downs}")
        self.multiple = 2**num_downs
        kw = {"norm": norm, "affine": affine}
        block = UnetBlock(8 * ngf, 8 * ngf, **kw)
        for _ in range(num_downs - 5):
            block = UnetBlock(8 * ngf, 8 * ngf, submodule=block, dropout=dropout, **kw)
        for mult in (4, 2, 1):
            block = UnetBlock(mult * ngf, 2 * mult * ngf, submodule=block, **kw)
        self.model = UnetBlock(3, ngf, in_channels=3, submodule=block, outermost=True, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # reflect, continued by replicating where a side is too short to reflect that far; shape arithmetic, so
        # an exported (traced) U-Net pads every size as this does (a fixed reflect failed on sides <= multiple / 2)
        padded, (h, w) = pad_for_generator(x, self.multiple, self.multiple)
        return self.model(padded)[:, :, :h, :w]
