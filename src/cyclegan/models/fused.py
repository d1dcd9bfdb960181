"""Faster forms of a generator's layers for CPUs computing in fp32 (AVX2 without native bf16) or in bf16 autocast
(with native bf16; the Winograd form steps aside there), with the same numbers (float64 agreement ~1e-12) and the
same parameters: `fuse_layers` converts a built, trained or restored network in place, and its state_dict keys
and tensors stay as they were (checkpoints unchanged).

- InstanceNorm (no affine, no running statistics) as `F.group_norm` with one group per channel: the same
  statistics, a faster CPU kernel than instance_norm's (which goes through batch_norm on a reshaped view).
- nearest x2 upsampling, reflection padding 1 and a 3x3 conv (the `resize` decoder) as one 2x2 conv at the
  low resolution with 4x the output channels, one per output phase, then a pixel shuffle (sub-pixel
  convolution, Shi et al. 2016): nearest upsampling repeats each pixel, so the 3x3 taps falling on the same
  source pixel add up (4/9 of the multiply-adds, on a quarter of the pixels); reflection padding of the
  upsampled image is replicate padding of the source.
- a conv to few channels (a generator's last conv, 3 outputs): oneDNN's kernels for 3 output channels leave most
  of a vector register empty. In fp32 each kernel row becomes an output channel of its own (21 for a 7x7
  kernel), then the rows' shifted outputs are summed (`_RowsConv`); in bf16, the transposed conv of its flipped
  kernel on channels-last tensors, which runs the wide side as output.
- a conv from the image's few channels to many (a generator's first conv): under bf16 autocast on a
  channels-last copy of its input (oneDNN's bf16 kernels for 3 input channels ran 1.54x faster so: the demo's
  3 -> 24 7x7 conv, forward and backward, one thread; in fp32 0.70x); in fp32 plainly, with its input gradient
  (many channels to 3: the thin direction) by rows (`_EntryConv`).
- a wide 3x3 conv (the residual blocks' convs of the `paper` model, 256 channels) by Winograd's minimal
  filtering F(2x2, 3x3) (Lavin & Gray 2016): each 4x4 input tile and 3x3 kernel are transformed so that 16
  elementwise products replace 36 multiply-adds per 2x2 outputs; the products over channels are 16 batched
  matrix products (near the CPU's peak), so the multiply-adds of forward and backward drop 2.25x, less the
  transforms' memory passes. oneDNN has Winograd kernels only for AVX-512; on AVX2 it computes such convs
  directly. fp32 agreement with the direct conv ~2e-6 relative (float64: ~1e-14).
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
    """A stride-1 conv to a few channels (a generator's last conv, 3 outputs). Same parameters as the nn.Conv2d
    it was. In fp32 (and float64) outside autocast, where its kernel rows make 8 output channels or more:
    `_RowsConv`. Otherwise conv_transpose2d with the kernel flipped and its in/out swapped (the same sums) on a
    channels-last copy of its input, output back to NCHW: oneDNN's transposed conv to a few channels ran 1.5-1.9x
    faster so in bf16 (the demo's 24 -> 3 7x7 conv, forward and backward, one thread), conversions included."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        fp32 = x.dtype in (torch.float32, torch.float64) and not torch.is_autocast_enabled(x.device.type)
        if fp32 and self.out_channels * self.kernel_size[0] >= 8:  # the rows fill an AVX2 register
            return _RowsConv.apply(x, weight, bias, self.padding)
        pad = [k - 1 - p for k, p in zip(self.kernel_size, self.padding)]
        x = x.contiguous(memory_format=torch.channels_last)
        return F_.conv_transpose2d(x, weight.flip(2, 3).transpose(0, 1), bias, padding=pad).contiguous()


def _rows_conv2d(x: torch.Tensor, weight: torch.Tensor, padding: tuple[int, int]) -> torch.Tensor:
    """`F.conv2d(x, weight, padding=padding)` (stride 1, no bias) as `_RowsConv` computes it:
    x (N, C, H, W), weight (O, C, KH, KW) -> (N, O, H + 2 PH - KH + 1, W + 2 PW - KW + 1)."""
    o, c, kh, kw = weight.shape
    rows = F_.conv2d(x, weight.permute(0, 2, 1, 3).reshape(o * kh, c, 1, kw), padding=padding)  # filter o KH + i:
    n, _, hp, w = rows.shape  # row i of filter o
    h = hp - kh + 1
    rows = rows.view(n, o, kh, hp, w)
    out = rows[:, :, 0, :h].clone()
    for i in range(1, kh):
        out += rows[:, :, i, i : i + h]
    return out


class _RowsConv(torch.autograd.Function):
    """`F.conv2d(x, weight, bias, padding=padding)` (stride 1, padding < kernel) for a few output channels O, each
    kernel row an output channel of its own: a (1, KW) conv to O KH channels, then KH shifted row slices summed.
    oneDNN's fp32 kernels fill a vector register along the output channels: 3 lanes of 8 for an RGB output, 21
    for a 7x7 kernel's rows. The gradients: as the channels-last transposed form computes them (faster there
    than the rows' own). The demo's 24 -> 3 7x7 conv, one thread, AVX2: forward 2x the transposed form's, with
    its gradients 0.9-1.3x over runs and shapes (`benchmarks/thin_conv.py`); the demo's 4-block step 1.02x."""

    @staticmethod
    def forward(ctx, x, weight, bias, padding):
        out = _rows_conv2d(x, weight, padding)
        if bias is not None:
            out += bias.view(1, -1, 1, 1)
        ctx.save_for_backward(x, weight)
        ctx.padding, ctx.has_bias = padding, bias is not None
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        (kh, kw), (ph, pw) = weight.shape[2:], ctx.padding
        cl = torch.channels_last
        dx, dw_t, db = torch.ops.aten.convolution_backward(
            grad.contiguous(memory_format=cl),
            x.contiguous(memory_format=cl),
            weight.flip(2, 3).transpose(0, 1),
            [weight.shape[0]] if ctx.has_bias else None,
            [1, 1],
            [kh - 1 - ph, kw - 1 - pw],
            [1, 1],
            True,
            [0, 0],
            1,
            [ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.has_bias and ctx.needs_input_grad[2]],
        )
        dx = None if dx is None else dx.contiguous()
        dw = None if dw_t is None else dw_t.transpose(0, 1).flip(2, 3)
        return dx, dw, db, None


class EntryConv2d(nn.Conv2d):
    """A stride-1 conv from a few channels to many, its input channels-last under CPU bf16 autocast (and its
    output back to NCHW), plain otherwise. Same parameters as the nn.Conv2d it was."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if not (torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16):
            fp32 = x.dtype in (torch.float32, torch.float64) and not torch.is_autocast_enabled(x.device.type)
            if fp32 and x.requires_grad:
                return _EntryConv.apply(x, weight, bias, self.padding)
            return super()._conv_forward(x, weight, bias)
        x = x.contiguous(memory_format=torch.channels_last)
        return super()._conv_forward(x, weight, bias).contiguous()


class _EntryConv(torch.autograd.Function):
    """`F.conv2d(x, weight, bias, padding=padding)` (stride 1) from a few input channels to many, computed
    plainly, with its input gradient computed as `_RowsConv` computes a conv to a few channels: the input
    gradient is the full correlation of the output gradient with the flipped kernel, from many channels to
    the input's few (the demo's 24 -> 3, 7x7, batch 2: 1.9x oneDNN's input gradient, one thread, AVX2)."""

    @staticmethod
    def forward(ctx, x, weight, bias, padding):
        ctx.save_for_backward(x, weight)
        ctx.padding, ctx.has_bias = padding, bias is not None
        return F_.conv2d(x, weight, bias, padding=padding)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        (kh, kw), (ph, pw) = weight.shape[2:], ctx.padding
        dx = None
        if ctx.needs_input_grad[0]:
            dx = _rows_conv2d(grad, weight.flip(2, 3).transpose(0, 1), (kh - 1 - ph, kw - 1 - pw))
        _, dw, db = torch.ops.aten.convolution_backward(
            grad,
            x,
            weight,
            [weight.shape[0]] if ctx.has_bias else None,
            [1, 1],
            [ph, pw],
            [1, 1],
            False,
            [0, 0],
            1,
            [False, ctx.needs_input_grad[1], ctx.has_bias and ctx.needs_input_grad[2]],
        )
        return dx, dw, db, None


def _bt(d: list[torch.Tensor], out: tuple[torch.Tensor, ...]) -> None:
    """out = B^T d along the list (4 entries), B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]."""
    torch.sub(d[0], d[2], out=out[0])
    torch.add(d[1], d[2], out=out[1])
    torch.sub(d[2], d[1], out=out[2])
    torch.sub(d[1], d[3], out=out[3])


def _b(g: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """B g along the tuple: the adjoint of `_bt`."""
    return [g[0], g[1] - g[2] + g[3], g[1] + g[2] - g[0], -g[3]]


def _at(m: tuple[torch.Tensor, ...], out: tuple[torch.Tensor, ...]) -> None:
    """out = A^T m along the tuple (4 entries in, 2 out), A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]."""
    torch.add(m[0] + m[1], m[2], out=out[0])
    torch.sub(m[1] - m[2], m[3], out=out[1])


def _a(g: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """A g along the tuple (2 entries in, 4 out): the adjoint of `_at`."""
    return [g[0], g[0] + g[1], g[0] - g[1], -g[1]]


def _input_tiles(x: torch.Tensor) -> torch.Tensor:
    """(N, C, 2T + 2, 2S + 2) -> (16, N T S, C): B^T d B of every 4x4 tile d at stride 2, rows then columns,
    written in the layout the batched matrix product reads (channels last)."""
    n, c, hp, wp = x.shape
    t, s = (hp - 2) // 2, (wp - 2) // 2
    xc = x.permute(0, 2, 3, 1).contiguous()  # (N, Hp, Wp, C)
    r = x.new_empty(4, n, t, wp, c)
    _bt([xc[:, a : a + 2 * t : 2] for a in range(4)], r.unbind(0))  # tile row a of every tile: (N, T, Wp, C)
    v = x.new_empty(4, 4, n, t, s, c)
    _bt([r[:, :, :, b : b + 2 * s : 2] for b in range(4)], v.unbind(1))  # tile column b: (4, N, T, S, C)
    return v.view(16, n * t * s, c)


def _input_tiles_adjoint(dv: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """The gradient of `_input_tiles`: B g B^T of every tile, the tiles' overlapping rows and columns added."""
    n, c, hp, wp = shape
    t, s = (hp - 2) // 2, (wp - 2) // 2
    dv = dv.view(4, 4, n, t, s, c)
    dr = dv.new_zeros(4, n, t, wp, c)
    for b, g in enumerate(_b(dv.unbind(1))):
        dr[:, :, :, b : b + 2 * s : 2] += g
    dx = dv.new_zeros(n, hp, wp, c)
    for a, g in enumerate(_b(dr.unbind(0))):
        dx[:, a : a + 2 * t : 2] += g
    return dx.permute(0, 3, 1, 2).contiguous()


def _output_tiles(m: torch.Tensor, n: int, t: int, s: int) -> torch.Tensor:
    """(16, N T S, K) products -> (N, K, 2T, 2S): A^T m A of every tile, its 2x2 outputs put in place."""
    k = m.shape[2]
    m = m.view(4, 4, n, t, s, k)
    rows = m.new_empty(2, 4, n, t, s, k)
    _at(m.unbind(0), rows.unbind(0))
    y = m.new_empty(2, 2, n, t, s, k)  # (output row, output column, N, T, S, K)
    _at(rows.unbind(1), y.unbind(1))
    return y.permute(2, 5, 3, 0, 4, 1).reshape(n, k, 2 * t, 2 * s)


def _output_tiles_adjoint(dy: torch.Tensor) -> torch.Tensor:
    """The gradient of `_output_tiles`: A g A^T of every 2x2 output gradient, (16, N T S, K)."""
    n, k, h, w = dy.shape
    t, s = h // 2, w // 2
    g = dy.reshape(n, k, t, 2, s, 2).permute(3, 5, 0, 2, 4, 1)  # (row, column, N, T, S, K)
    rows = dy.new_empty(2, 4, n, t, s, k)
    for i, x in enumerate(_a(g.unbind(1))):
        rows[:, i].copy_(x)
    dm = dy.new_empty(4, 4, n, t, s, k)
    for i, x in enumerate(_a(rows.unbind(0))):
        dm[i].copy_(x)
    return dm.view(16, n * t * s, k)


_G = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
_KRON_G = torch.kron(_G, _G)  # (16, 9): the kernel transform G g G^T of a flattened 3x3 kernel


class _Winograd(torch.autograd.Function):
    """x (N, C, 2T + 2, 2S + 2), weight (K, C, 3, 3) -> (N, K, 2T, 2S). Saves only x and the weight, as the direct
    conv does (the transformed tiles are 4x the input: recomputed in backward, a few per cent of its time)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        n, c, hp, wp = x.shape
        k = weight.shape[0]
        u = (_KRON_G.to(weight) @ weight.reshape(k * c, 9).T).view(16, k, c).transpose(1, 2)  # (16, C, K)
        ctx.save_for_backward(x, u)
        return _output_tiles(torch.bmm(_input_tiles(x), u), n, (hp - 2) // 2, (wp - 2) // 2)

    @staticmethod
    def backward(ctx, dy: torch.Tensor):
        x, u = ctx.saved_tensors
        dm = _output_tiles_adjoint(dy)
        dx = dw = None
        if ctx.needs_input_grad[0]:
            dx = _input_tiles_adjoint(torch.bmm(dm, u.transpose(1, 2)), x.shape)
        if ctx.needs_input_grad[1]:
            du = torch.bmm(_input_tiles(x).transpose(1, 2), dm)  # (16, C, K)
            k, c = du.shape[2], du.shape[1]
            dw = (_KRON_G.to(du).T @ du.permute(0, 2, 1).reshape(16, k * c)).T.reshape(k, c, 3, 3)
        return dx, dw


def winograd_conv3x3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """`F.conv2d(x, weight, bias)` for a 3x3 kernel, stride 1, no padding, by F(2x2, 3x3):
    x (N, C, H + 2, W + 2) -> (N, K, H, W), weight (K, C, 3, 3), bias (K,) or None. Odd H or W get a zero
    row or column, cropped from the output."""
    h, w = x.shape[2] - 2, x.shape[3] - 2
    if h % 2 or w % 2:
        x = F_.pad(x, [0, w % 2, 0, h % 2])
    y = _Winograd.apply(x, weight)
    if h % 2 or w % 2:
        y = y[:, :, :h, :w]
    return y if bias is None else y + bias.view(1, -1, 1, 1)


# Where F(2x2, 3x3) paid on AVX2 in fp32 (forward and backward of one conv, one thread as in the lanes;
# `benchmarks/winograd.py`, docs/results.md): 256 channels at 64x64 1.36x, at 32x32 1.39x, at 16x16 1.10x;
# 128 channels at 32-64 px 1.14-1.25x; 64 channels at 128x128 0.72x (the transforms' memory passes outweigh the
# saved products). The demo's 96-channel blocks gained nothing in the whole step, so 128 stays the bar.
WINOGRAD_MIN_CHANNELS = 128
WINOGRAD_MIN_PIXELS = 32 * 32  # output pixels of the whole batch


class WinogradConv2d(nn.Conv2d):
    """A 3x3, stride-1, unpadded conv computed by `winograd_conv3x3` where it pays (enough output pixels; fp32
    or float64 outside autocast), else as the nn.Conv2d it was. Same parameters."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        pixels = x.shape[0] * (x.shape[2] - 2) * (x.shape[3] - 2)
        if (
            pixels < WINOGRAD_MIN_PIXELS
            or x.dtype not in (torch.float32, torch.float64)
            or torch.is_autocast_enabled(x.device.type)
        ):
            return super()._conv_forward(x, weight, bias)
        return winograd_conv3x3(x, weight, bias)


def subpixel_weight(weight: torch.Tensor) -> torch.Tensor:
    """A 3x3 conv weight (C_out, C_in, 3, 3) folded into the 2x2 weights of its 4 output phases:
    (4 C_out, C_in, 2, 2), ordered channel-major (c * 4 + 2 * row phase + column phase) for pixel_shuffle."""
    fold = _FOLD.to(weight)
    w = torch.einsum("apk,bql,oikl->oabipq", fold, fold, weight)  # (C_out, 2, 2, C_in, 2, 2)
    return w.reshape(-1, weight.shape[1], 2, 2)


class SubpixelUpConv(nn.Module):
    """nearest x2 up, reflection (or, with `zeros`, zero) pad 1, conv 3x3 (stride 1): (B, C_in, H, W) -> (B, C_out,
    2H, 2W), computed at the low resolution. Holds the original conv's `weight` and `bias` Parameters (same
    state_dict keys). Reflecting the upsampled image by 1 repeats its edge pixels, the source's: replicate padding
    of the source; zero padding of the upsampled image is zero padding of the source."""

    def __init__(self, conv: nn.Conv2d, *, zeros: bool = False):
        super().__init__()
        self.weight = conv.weight
        self.bias = conv.bias
        self.zeros = zeros

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.repeat_interleave(4)
        if self.zeros:  # the conv pads by zeros itself: no padded copy
            y = F_.conv2d(x, subpixel_weight(self.weight), bias, padding=1)
        else:
            y = F_.conv2d(F_.pad(x, [1, 1, 1, 1], mode="replicate"), subpixel_weight(self.weight), bias)
        return _InterleavePhases.apply(y)


class _InterleavePhases(torch.autograd.Function):
    """(B, 4 C, H + 1, W + 1), phase (r, s) of output channel c in channel 4 c + 2 r + s at offset (r, s) ->
    (B, C, 2 H, 2 W) with out[..., 2 i + r, 2 j + s] = phase (r, s)[..., i + r, j + s]. One strided copy per
    phase each way: slicing and stacking in autograd zero-filled the whole input once per phase in backward
    and added the four (1.1 % of the demo's fp32 step in `fill_` alone)."""

    @staticmethod
    def forward(ctx, y: torch.Tensor) -> torch.Tensor:
        b, c4, h1, w1 = y.shape
        h, w = h1 - 1, w1 - 1
        phases = y.view(b, c4 // 4, 2, 2, h1, w1)
        out = y.new_empty(b, c4 // 4, h, 2, w, 2)
        for r in (0, 1):
            for s in (0, 1):
                out[:, :, :, r, :, s] = phases[:, :, r, s, r : r + h, s : s + w]
        return out.view(b, c4 // 4, 2 * h, 2 * w)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        b, c, h2, w2 = grad.shape
        h, w = h2 // 2, w2 // 2
        g = grad.reshape(b, c, h, 2, w, 2)
        out = grad.new_empty(b, c, 2, 2, h + 1, w + 1)
        for r in (0, 1):
            for s in (0, 1):
                out[:, :, r, s, r : r + h, s : s + w] = g[:, :, :, r, :, s]
                out[:, :, r, s, h * (1 - r), :] = 0  # the row and column this phase does not reach
                out[:, :, r, s, :, w * (1 - s)] = 0
        return out.view(b, 4 * c, h + 1, w + 1)


def _is_plain_instance_norm(m: nn.Module) -> bool:
    return isinstance(m, nn.InstanceNorm2d) and not m.affine and not m.track_running_stats


def _is_plain_stride1_conv(m: nn.Module) -> bool:
    """A plain (not reparametrised) nn.Conv2d: stride 1, no dilation, one group, zero padding."""
    return (
        type(m) is nn.Conv2d
        and m.stride == (1, 1)
        and m.dilation == (1, 1)
        and m.groups == 1
        and m.padding_mode == "zeros"
    )


def _is_thin_conv(m: nn.Module) -> bool:
    """A plain stride-1 conv from many channels to a few, with zero padding < kernel."""
    return (
        _is_plain_stride1_conv(m)
        and m.out_channels <= 4
        and m.in_channels >= 8
        and isinstance(m.padding, tuple)
        and all(p < k for p, k in zip(m.padding, m.kernel_size))
    )


def _is_entry_conv(m: nn.Module) -> bool:
    """A plain stride-1 conv from the image's channels (at most 4) to many."""
    return _is_plain_stride1_conv(m) and m.in_channels <= 4 and m.out_channels >= 8


def _is_winograd_conv(m: nn.Module) -> bool:
    """A plain 3x3, stride-1, unpadded conv (its padding a layer before it) between many channels."""
    return (
        _is_plain_stride1_conv(m)
        and m.kernel_size == (3, 3)
        and m.padding == (0, 0)
        and min(m.in_channels, m.out_channels) >= WINOGRAD_MIN_CHANNELS
    )


def _is_resize_conv(a: nn.Module, b: nn.Module, c: nn.Module) -> bool:
    return (
        isinstance(a, nn.Upsample)
        and a.mode == "nearest"
        and a.scale_factor in (2, 2.0, (2, 2), (2.0, 2.0))
        and isinstance(b, nn.ReflectionPad2d | ReflectionPad2d | nn.ZeroPad2d)
        and tuple(b.padding) == (1, 1, 1, 1)
        and isinstance(c, nn.Conv2d)
        and c.kernel_size == (3, 3)
        and c.stride == (1, 1)
        and c.padding == (0, 0)
        and c.dilation == (1, 1)
        and c.groups == 1
        and c.padding_mode == "zeros"
    )


def _is_foldable_zero_pad(pad: nn.Module, conv: nn.Module) -> bool:
    """A symmetric nn.ZeroPad2d before an unpadded conv that pads by itself (plain, thin or entry: not the
    Winograd form, which takes its input padded)."""
    if not isinstance(pad, nn.ZeroPad2d) or type(conv) not in (nn.Conv2d, ThinConv2d, EntryConv2d):
        return False
    left, right, top, bottom = pad.padding
    return left == right and top == bottom and conv.padding == (0, 0) and conv.padding_mode == "zeros"


FUSIONS = ("norm", "subpixel", "thin", "entry", "winograd", "pad")


def _sequentials(net: nn.Module) -> list[tuple[nn.Sequential, list[str]]]:
    """`net`'s nn.Sequentials with their children's names, listed before any is changed (both walks below replace
    children as they go)."""
    return [(m, list(m._modules)) for m in list(net.modules()) if isinstance(m, nn.Sequential)]


def fuse_layers(net: nn.Module, kinds: tuple[str, ...] = FUSIONS) -> nn.Module:
    """Convert `net`'s InstanceNorms ("norm"), resize-conv decoders ("subpixel"), thin convs ("thin"), entry convs
    ("entry") and wide 3x3 convs ("winograd"), in any nn.Sequential, to their faster forms in place, and fold zero
    pads into the convs after them ("pad": the conv pads without a padded copy), keeping every parameter, buffer
    and state_dict key; returns `net`. Layers of other kinds stay."""
    for module, names in _sequentials(net):
        for i, name in enumerate(names):
            child = module._modules[name]
            if "norm" in kinds and _is_plain_instance_norm(child) and type(child) is nn.InstanceNorm2d:
                child.__class__ = GroupInstanceNorm  # same attributes, another forward
            elif "thin" in kinds and _is_thin_conv(child):
                child.__class__ = ThinConv2d
            elif "entry" in kinds and _is_entry_conv(child):
                child.__class__ = EntryConv2d
            elif "winograd" in kinds and _is_winograd_conv(child):
                child.__class__ = WinogradConv2d
            elif (
                "subpixel" in kinds
                and i + 2 < len(names)
                and _is_resize_conv(*(module._modules[n] for n in names[i : i + 3]))
            ):
                conv, zeros = module._modules[names[i + 2]], isinstance(module._modules[names[i + 1]], nn.ZeroPad2d)
                module._modules[name] = nn.Identity()
                module._modules[names[i + 1]] = nn.Identity()
                module._modules[names[i + 2]] = SubpixelUpConv(conv, zeros=zeros)
        for name, after in zip(names, names[1:]):  # after the conversions: Winograd takes its input padded
            pad, conv = module._modules[name], module._modules[after]
            if "pad" in kinds and _is_foldable_zero_pad(pad, conv):
                conv.padding = (pad.padding[2], pad.padding[0])
                module._modules[name] = nn.Identity()
    return net


def plain_layers(net: nn.Module) -> nn.Module:
    """Undo `fuse_layers` in place: each faster form back to the plain layer it was (the resize decoder as nearest
    x2, pad 1 and a 3x3 conv again; a folded zero pad stays in its conv's `padding`), same parameters and
    state_dict; returns `net`. For tracing (`cyclegan.export`): the faster forms' autograd Functions cannot be
    traced, and group_norm with one group per channel takes its group count from the input's shape, which ONNX
    needs as a constant. Layers of other kinds stay."""
    for module, names in _sequentials(net):
        for i, name in enumerate(names):
            child = module._modules[name]
            if type(child) is GroupInstanceNorm:
                child.__class__ = nn.InstanceNorm2d
            elif type(child) in (ThinConv2d, EntryConv2d, WinogradConv2d):
                child.__class__ = nn.Conv2d
            elif isinstance(child, SubpixelUpConv) and i >= 2:  # fuse_layers left two Identity layers before it
                # on "meta": a real one drew its initial weights from torch's global random stream, so exporting a
                # trainer's G from Python changed the rest of the run's draws; its weights are replaced anyway
                out_ch, in_ch = child.weight.shape[:2]
                conv = nn.Conv2d(in_ch, out_ch, 3, bias=child.bias is not None, device="meta")
                conv.weight, conv.bias = child.weight, child.bias
                module._modules[names[i - 2]] = nn.Upsample(scale_factor=2, mode="nearest")
                module._modules[names[i - 1]] = nn.ZeroPad2d(1) if child.zeros else ReflectionPad2d(1)
                module._modules[name] = conv
    return net
