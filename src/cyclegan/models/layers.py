"""Building blocks shared by the generators and discriminators."""

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F_
from torch import nn

from ..errors import CycleGANError

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


def _max(a, b):
    """max(a, b) as arithmetic (no comparison turned into a Python bool): ints when run, 0-dim tensors when
    traced, so an exported graph computes it for each input's shape instead of fixing it at trace time."""
    d = b - a
    return a + d * (d > 0)


def layout_hint(shape: tuple[int, ...]) -> str:
    """How a tensor of a common other layout becomes (3, H, W) or (B, 3, H, W), or "": channels last (numpy's and
    PIL's order), greyscale, RGBA. For `G(x)` (`pad_for_generator`) and `cyclegan.translate` alike."""
    batch = len(shape) == 4
    if len(shape) == 2:
        return ": greyscale? give x.expand(3, -1, -1)"
    if len(shape) not in (3, 4):
        return ""
    if shape[-1] == 3 and shape[-3] not in (1, 3, 4):
        return f": channels last? give x.permute({'0, 3, 1, 2' if batch else '2, 0, 1'})"
    if shape[-3] == 1:
        return f": greyscale? give x.expand({'-1, 3' if batch else '3'}, -1, -1)"
    if shape[-3] == 4:
        return f": RGBA? give x[{':, ' if batch else ''}:3] (a PIL image has its transparency put on white)"
    return ""


def pad_for_generator(x: torch.Tensor, multiple: int, least: int | None = None) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (B, C, H, W) on the bottom and right to what a generator needs: H and W multiples of `multiple`
    and at least `least` (default 2 x `multiple`: at 1 x `multiple` the bottleneck is a single pixel, which
    instance norm refuses; `tiling.least_size` gives a network's). Returns the padded tensor and the original
    (H, W), to crop the output back with [..., :H, :W].

    Reflect padding, continued by replicating the edge where a side is too short to reflect that far (a
    side of s px reflects at most s - 1). Every amount is shape arithmetic, so `translate` and the exported
    graph (`cyclegan.export`, traced) pad every size alike: equal outputs at any size.
    """
    # (3, H, W) came out (3, H / 4, W) from a resize-upsampling ResNet, or a raw error deep inside; (B, 4, H, W)
    # torch's conv error ("expected input[1, 4, 32, 32] to have 3 channels"). Every generator takes 3 channels; not
    # asked while traced (export): there a shape is a tensor, and its check a warning of the trace's
    if x.dim() != 4 or (not torch.jit.is_tracing() and x.shape[1] != 3):
        one = ": give x.unsqueeze(0), or cyclegan.translate(G, x), which takes one image too" if x.dim() == 3 else ""
        hint = one or layout_hint(tuple(x.shape))
        raise CycleGANError(f"a generator takes a batch (B, 3, H, W), got a tensor of shape {tuple(x.shape)}{hint}")
    h, w = x.shape[-2], x.shape[-1]
    least = 2 * multiple if least is None else least  # a multiple of `multiple` itself
    pad_h = _max((multiple - h % multiple) % multiple, least - h)
    pad_w = _max((multiple - w % multiple) % multiple, least - w)
    tracing = torch.jit.is_tracing()
    if not tracing and pad_h == 0 and pad_w == 0:
        return x, (h, w)
    reflect_h, reflect_w = pad_h - _max(pad_h - (h - 1), 0), pad_w - _max(pad_w - (w - 1), 0)  # min(pad, side - 1)
    x = F_.pad(x, [0, reflect_w, 0, reflect_h], mode="reflect")
    if tracing or pad_h != reflect_h or pad_w != reflect_w:
        x = F_.pad(x, [0, pad_w - reflect_w, 0, pad_h - reflect_h], mode="replicate")
    return x, (h, w)


def at_any_size(
    run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, multiple: int, least: int
) -> torch.Tensor:
    """`run(x)` for x (B, C, H, W) of any H and W: x padded as `cyclegan.translate` pads (`pad_for_generator`:
    sides multiples of `multiple`, at least `least` px), the output (B, C', H', W') cropped back to (B, C', H,
    W). At such a size already (training's) x goes through untouched, and so when traced: the export's
    wrapper pads (`export.PadToMultiple`), so the exported graph keeps its one dynamic padding."""
    if torch.jit.is_tracing():
        return run(x)
    padded, (h, w) = pad_for_generator(x, multiple, least)
    y = run(padded)
    return y if padded is x else y[..., :h, :w]


# --- resampling without checkerboards (Odena et al. 2016; the anti-aliased layers of the CUT code) ---------


def _binomial(taps: tuple[float, ...]) -> torch.Tensor:
    k = torch.tensor(taps)
    k = k[:, None] * k[None, :]
    return k / k.sum()


class BlurDownsample(nn.Module):
    """x2 downsampling by a fixed [1, 2, 1] x [1, 2, 1] low-pass filter with stride 2 (reflect padding),
    per channel: (B, C, H, W) -> (B, C, ceil(H / 2), ceil(W / 2)). No parameters."""

    def __init__(self, channels: int):
        super().__init__()
        self.register_buffer("kernel", _binomial((1.0, 2.0, 1.0)).expand(channels, 1, 3, 3).clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):  # padding and the filter keep the input's dtype
            x = F_.pad(x, [1, 1, 1, 1], mode="reflect")
            return F_.conv2d(x, self.kernel.to(x.dtype), stride=2, groups=x.shape[1])


class BlurUpsample(nn.Module):
    """x2 upsampling by a fixed [1, 3, 3, 1] x [1, 3, 3, 1] low-pass transposed filter per channel
    (replicate padding): (B, C, H, W) -> (B, C, 2H, 2W). Every output pixel gets the same total weight, so
    a constant input stays constant: no checkerboard. No parameters."""

    def __init__(self, channels: int):
        super().__init__()
        kernel = _binomial((1.0, 3.0, 3.0, 1.0)) * 4  # x4: each output pixel receives a quarter of the taps
        self.register_buffer("kernel", kernel.expand(channels, 1, 4, 4).clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            x = F_.pad(x, [1, 1, 1, 1], mode="replicate")
            return F_.conv_transpose2d(x, self.kernel.to(x.dtype), stride=2, padding=3, groups=x.shape[1])


Downsample = Literal["stride", "antialias"]
Upsample = Literal["transpose", "resize", "antialias"]
Padding = Literal["reflect", "zeros"]


def pad_layer(kind: Padding, amount: int) -> nn.Module:
    """The padding before a resnet generator's stride-1 conv: reflection (the paper's), or zeros (which mirror no
    object cut by the image's edge into a twin, and tell the convs where the edge is)."""
    if kind == "reflect":
        return ReflectionPad2d(amount)
    if kind == "zeros":
        return nn.ZeroPad2d(amount)
    raise ValueError(f"unknown padding {kind!r}; expected reflect or zeros")


def downsample_layers(c_in: int, c_out: int, *, kind: Downsample, norm: Norm) -> list[nn.Module]:
    """x2 down, c_in -> c_out channels, then norm and ReLU. stride: a 3x3 stride-2 conv (the paper);
    antialias: a 3x3 stride-1 conv, norm, ReLU, then `BlurDownsample` (CUT's layers)."""
    bias = uses_bias(norm)
    if kind == "stride":
        return [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=bias), norm_layer(norm, c_out), nn.ReLU(True)]
    if kind == "antialias":
        conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=bias)
        return [conv, norm_layer(norm, c_out), nn.ReLU(True), BlurDownsample(c_out)]
    raise ValueError(f"unknown downsampling {kind!r}")


def upsample_layers(
    c_in: int, c_out: int, *, kind: Upsample, norm: Norm, padding: Padding = "reflect"
) -> list[nn.Module]:
    """x2 up, c_in -> c_out channels, then norm and ReLU. transpose: a 3x3 stride-2 transposed conv (the
    paper; its uneven overlap draws checkerboards); resize: nearest x2 then a 3x3 conv; antialias:
    `BlurUpsample` then a 3x3 conv (CUT's layers)."""
    bias = uses_bias(norm)
    if kind == "transpose":
        up: list[nn.Module] = [nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1, bias=bias)]
    elif kind == "antialias_zero_pad":  # the CUT code's layout (zero-padded conv): only to load its files
        up = [BlurUpsample(c_in), nn.Conv2d(c_in, c_out, 3, padding=1, bias=bias)]
    elif kind in ("resize", "antialias"):
        resample = nn.Upsample(scale_factor=2, mode="nearest") if kind == "resize" else BlurUpsample(c_in)
        up = [resample, pad_layer(padding, 1), nn.Conv2d(c_in, c_out, 3, bias=bias)]
    else:
        raise ValueError(f"unknown upsampling {kind!r}")
    return [*up, norm_layer(norm, c_out), nn.ReLU(True)]


def spectral(module: nn.Module, enabled: bool) -> nn.Module:
    """`module` with spectral normalisation of its weight (Miyato et al. 2018) when `enabled`."""
    return nn.utils.parametrizations.spectral_norm(module) if enabled else module
