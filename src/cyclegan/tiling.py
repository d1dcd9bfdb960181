"""Images of any resolution: overlapping tiles, blended with a smooth window, sharing the InstanceNorm
statistics of a thumbnail of the whole image.

A generator's activations grow with the image: the paper's ResNet needs about 1 KB per pixel (measured on
the CPU), so a 24-megapixel photo would need about 25 GB at once. Cut into tiles, each tile's activations
are bounded, but InstanceNorm would then normalise each tile by its own mean and variance, and neighbouring
tiles would differ in tone: visible seams. Thumbnail instance normalisation (Chen et al., "Towards
Ultra-Resolution Neural Style Transfer via Thumbnail Instance Normalization", AAAI 2022) runs the network
once on a thumbnail of the whole image, records every InstanceNorm layer's per-channel mean and variance,
and normalises every tile with those: the tiles then compute what the whole image would, up to the
convolutions' view past a tile's border, which the overlap hides (a raised-cosine ramp across its middle
half, so the weights of two neighbouring tiles sum to one). BatchNorm in eval mode, and InstanceNorm that
tracks running statistics, already normalise with fixed statistics: nothing to record.

`translate_tiled` does this for one image; `plan_tiles` says whether and how an image is tiled (`tile`
None: only when `activation_bytes` over the whole image exceeds the memory budget).
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F_
from torch import nn

from .errors import CycleGANError
from .progress import progress_bar
from .translate_options import (
    DEFAULT_MAX_MEMORY_GB,
    DEFAULT_OVERLAP,
    DEFAULT_THUMBNAIL,
    MIN_TILE,
    THUMBNAIL_ASPECT,
    TilingOptions,
)

# Each tile's outer quarter of an overlap is left out and the middle half blended: on small random
# InstanceNorm ResNets this halved the difference from the whole image against a ramp over all of it.
RAMP_MARGIN = 0.25
# Peak memory of a forward pass (no grad) per input pixel, as a multiple of the largest activation (on the
# 128 px probe: the 64-channel output of the last reflection pad, 280 bytes per pixel in fp32): measured 3.2
# to 4.1 for the paper's ResNet on the CPU (896 to 1154 bytes per pixel, fp32 and bf16, 512 and 1024 px):
# the layer's input, its output, a padded copy, and the allocator's slack.
PEAK_FACTOR = 4.1
PROBE = 128  # side of the probe image (a 7x7 conv's padded input is then 10% larger than the image, as at scale)

_BYTES_PER_PIXEL: weakref.WeakKeyDictionary[nn.Module, float] = weakref.WeakKeyDictionary()


def size_multiple(net: nn.Module) -> int:
    """How many pixels H and W must be a multiple of for `net` (4 for the ResNet generator)."""
    return int(getattr(net, "size_multiple", 4))


def least_size(net: nn.Module) -> int:
    """The smallest H and W `net` takes: 2 x `size_multiple` (a 1-pixel bottleneck fails instance norm), more
    where it says so (`min_size`: a reflection pad wider than its input fails)."""
    return max(2 * size_multiple(net), int(getattr(net, "min_size", 0)))


def activation_bytes(net: nn.Module, height: int, width: int, batch: int = 1) -> float:
    """Estimated peak bytes of `net`'s activations for a (batch, 3, height, width) input: PEAK_FACTOR times
    its largest activation, found once per network by a forward pass on a small probe (fp32 bytes: under
    autocast some layers still compute in fp32)."""
    per_pixel = _BYTES_PER_PIXEL.get(net)
    if per_pixel is None:
        m = size_multiple(net)
        side = max(2 * m, PROBE // m * m)  # not smaller: the padding around a tiny probe would dominate
        largest = 0

        def hook(_module, _inputs, output):
            nonlocal largest
            if isinstance(output, torch.Tensor):
                largest = max(largest, output.numel())

        leaves = [m for m in net.modules() if not list(m.children())]
        handles = [m.register_forward_hook(hook) for m in leaves]
        try:
            p = next(net.parameters())
            with torch.no_grad():
                net(torch.zeros(1, 3, side, side, device=p.device, dtype=p.dtype))
        finally:
            for h in handles:
                h.remove()
        per_pixel = PEAK_FACTOR * 4 * largest / side**2
        _BYTES_PER_PIXEL[net] = per_pixel
    return per_pixel * batch * height * width


# --- thumbnail instance normalisation ---------------------------------------------------------------------


def per_instance_norms(net: nn.Module) -> list[nn.InstanceNorm2d]:
    """The InstanceNorm layers that normalise by each input's own statistics (not tracked running ones)."""
    return [
        m
        for m in net.modules()
        if isinstance(m, nn.modules.instancenorm._InstanceNorm) and not (m.track_running_stats and not m.training)
    ]


def _fixed_norm(m: nn.InstanceNorm2d, mean: torch.Tensor, var: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """InstanceNorm of x (B, C, H, W) with given per-channel statistics (1, C) instead of x's own."""
    y = (x.float() - mean[..., None, None]) * torch.rsqrt(var[..., None, None] + m.eps)
    if m.affine:
        y = y * m.weight.float()[:, None, None] + m.bias.float()[:, None, None]
    return y.to(x.dtype)


@contextlib.contextmanager
def recording_norm_stats(net: nn.Module) -> Iterator[dict[nn.Module, tuple[torch.Tensor, torch.Tensor]]]:
    """Within the block, each forward pass of `net` records every per-instance InstanceNorm layer's input
    mean and (biased) variance per channel, in fp32: {layer: (mean (1, C), var (1, C))} of the last pass."""
    stats: dict[nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}

    def hook(module, inputs):
        x = inputs[0].float()
        var, mean = torch.var_mean(x, dim=(2, 3), unbiased=False)  # (B, C)
        stats[module] = (mean[:1], var[:1])

    handles = [m.register_forward_pre_hook(hook) for m in per_instance_norms(net)]
    try:
        yield stats
    finally:
        for h in handles:
            h.remove()


@contextlib.contextmanager
def fixed_norm_stats(net: nn.Module, stats: dict[nn.Module, tuple[torch.Tensor, torch.Tensor]]) -> Iterator[None]:
    """Within the block, `net`'s per-instance InstanceNorm layers normalise with `stats` (from
    `recording_norm_stats`) instead of each input's own statistics."""
    swapped = []
    try:
        for m in per_instance_norms(net):
            if m not in stats:
                raise CycleGANError("the thumbnail pass did not reach every InstanceNorm layer of the generator")
            mean, var = stats[m]
            m.forward = lambda x, m=m, mean=mean, var=var: _fixed_norm(m, mean, var, x)  # instance attribute
            swapped.append(m)
        yield
    finally:
        for m in swapped:
            del m.forward  # back to the class's forward


# --- tiles --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TilePlan:
    """How one image is translated: whole (`tile` 0) or in tiles of `tile` px overlapping by `overlap`,
    with InstanceNorm statistics from a thumbnail of long side `thumbnail` (0: each tile its own)."""

    tile: int
    overlap: int
    thumbnail: int

    @property
    def whole(self) -> bool:
        return self.tile == 0


def check_budget(net: nn.Module, max_memory_gb: float) -> int:
    """The side of the largest tile whose activations fit `max_memory_gb`; refused (one line naming
    --max-memory) when under MIN_TILE. `translate` asks before any image: the answer is the same for all,
    and an image that needed tiles stopped the command (exit 2) after the smaller ones were written."""
    m, per_pixel = size_multiple(net), activation_bytes(net, 1, 1)
    tile = int(math.sqrt(max_memory_gb * 1e9 / per_pixel)) // m * m
    if tile < MIN_TILE:
        least = MIN_TILE**2 * per_pixel / 1e9
        raise CycleGANError(
            f"option '--max-memory' {max_memory_gb:g}: this generator's activations would fit tiles of only "
            f"{max(tile, 0)} px (under {MIN_TILE} px, too small to translate); give at least {least:.2g}"
        )
    return tile


def plan_tiles(
    net: nn.Module,
    height: int,
    width: int,
    *,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    max_memory_gb: float = DEFAULT_MAX_MEMORY_GB,
    thumbnail: int = DEFAULT_THUMBNAIL,
) -> TilePlan:
    """Whole image or tiles for an image of `height` x `width`. `tile` 0: whole, always; N: tiles of N px
    (rounded up to the network's multiple) when the image is larger than one; None: whole if its
    activations fit `max_memory_gb`, else the largest tiles that fit (refused, naming --max-memory, when
    those would be smaller than MIN_TILE). The thumbnail is made no larger than the budget allows either; below
    that, a thin image's (a strip panorama's) keeps 1 / THUMBNAIL_ASPECT of its long side across, or all it has."""
    m = size_multiple(net)
    budget = max_memory_gb * 1e9
    per_pixel = activation_bytes(net, 1, 1)
    if tile == 0:
        return TilePlan(0, 0, 0)
    if tile is None:
        if activation_bytes(net, height, width) <= budget:
            return TilePlan(0, 0, 0)
        tile = check_budget(net, max_memory_gb)
        overlap = min(overlap, tile // 4)  # a small budget: tiles smaller than the overlap asked for
    tile = max(2 * m, -(-tile // m) * m)  # up: an overlap under half the tile asked for stays under half of it
    if height <= tile and width <= tile:
        return TilePlan(0, 0, 0)
    if 2 * overlap >= tile:
        raise CycleGANError(f"option '--tile-overlap' {overlap} must be less than half the tile size ({tile} px)")
    if thumbnail:
        long, short = max(height, width), min(height, width)
        fits = int(math.sqrt(budget / per_pixel * long / short))  # long side that fits
        across = min(short, thumbnail // THUMBNAIL_ASPECT)  # the rows a thin image's thumbnail keeps
        keeps = -(-long * across // short)  # the long side at which it keeps them
        thumbnail = max(2 * m, min(max(thumbnail, keeps), fits))
    return TilePlan(tile, overlap, thumbnail)


def plan_for(options: TilingOptions, net: nn.Module, height: int, width: int) -> TilePlan:
    """`plan_tiles` with `translate`'s tiling options (`--tile`, `--tile-overlap`, `--max-memory`, `--thumbnail`)."""
    return plan_tiles(
        net,
        height,
        width,
        tile=options.tile,
        overlap=options.tile_overlap,
        max_memory_gb=options.max_memory,
        thumbnail=options.thumbnail,
    )


def tile_starts(length: int, tile: int, overlap: int, multiple: int) -> list[int]:
    """Start of each tile along one side of `length` px: evenly spread, each at a multiple of `multiple`
    (the network's stride: tiles then see the pixel grid as the whole image does), neighbours overlapping
    by at least `overlap`, the last one reaching the end (it may be up to `multiple` - 1 px longer)."""
    if length <= tile:
        return [0]
    n = math.ceil((length - overlap) / (tile - overlap))
    while True:
        last = (length - tile) // multiple * multiple
        starts = [round(i * last / (n - 1) / multiple) * multiple for i in range(n)] if n > 1 else [0]
        ends = [min(s + tile, length) for s in starts]
        ends[-1] = length
        if all(starts[i + 1] <= ends[i] - overlap for i in range(n - 1)):
            return starts
        n += 1


def _ramp(n: int) -> torch.Tensor:
    """Weights rising from 0 to 1 across an overlap of `n` px: 0 over its first quarter (where the tile's
    border shows most), a raised cosine over its middle half, 1 over its last quarter."""
    t = (((torch.arange(n) + 0.5) / n - RAMP_MARGIN) / (1 - 2 * RAMP_MARGIN)).clamp(0, 1)
    return torch.sin(torch.pi / 2 * t) ** 2


def _ramps(starts: list[int], tile: int, length: int) -> list[torch.Tensor]:
    """Per tile along one side, its blending weights: 1 inside, `_ramp` up (and 1 - `_ramp` down) across
    each overlap with a neighbour, so the two tiles' weights there sum to 1."""
    ends = [min(s + tile, length) for s in starts]
    ends[-1] = length
    weights = []
    for i, (s, e) in enumerate(zip(starts, ends)):
        w = torch.ones(e - s)
        if i > 0 and ends[i - 1] > s:  # overlap with the previous tile: ramp up
            n = ends[i - 1] - s
            w[:n] *= _ramp(n)
        if i + 1 < len(starts) and starts[i + 1] < e:  # overlap with the next tile: ramp down
            n = e - starts[i + 1]
            w[e - s - n :] *= 1 - _ramp(n)
        weights.append(w)
    return weights


def thumbnail_of(x: torch.Tensor, long_side: int, *, device: torch.device | None = None) -> torch.Tensor:
    """x (1, 3, H, W), in [-1, 1] or uint8, shrunk (bilinear, antialiased) so its long side is at most
    `long_side`: (1, 3, h, w) in [-1, 1], on `device` (default: x's). A uint8 image is shrunk in float a strip
    of rows at a time along its width first (rows are independent there), then along its height: the numbers
    of a float image's thumbnail, without a float copy of the whole image; each strip crosses to `device` as
    bytes (in float first, 4x the bytes over a GPU's PCIe link)."""
    device = device or x.device
    h, w = x.shape[-2:]
    scale = long_side / max(h, w)
    if scale >= 1:
        return as_unit(x.to(device))
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    shrink = partial(F_.interpolate, mode="bilinear", antialias=True, align_corners=False)
    if x.dtype != torch.uint8:
        return shrink(x.to(device), size=size).clamp(-1, 1)
    x = torch.cat(
        [
            shrink(as_unit(x[..., i : i + 256, :].to(device)), size=(len(range(i, min(i + 256, h))), size[1]))
            for i in range(0, h, 256)
        ],
        dim=-2,
    )
    return shrink(x, size=size).clamp(-1, 1)


def as_unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 in [0, 255] -> float32 in [-1, 1] (as `data.io.to_tensor`); a float tensor is returned as it is."""
    return x.float().mul_(2 / 255).sub_(1) if x.dtype == torch.uint8 else x


def as_bytes(y: torch.Tensor) -> torch.Tensor:
    """float in [-1, 1] -> uint8, rounding as `data.io.to_pil` does: round((y + 1) / 2 * 255). Works in
    place: `y` is used up (no second float copy of a large output)."""
    return y.clamp_(-1, 1).add_(1).mul_(255 / 2).round_().to(torch.uint8)


def translate_tiled(net: nn.Module, x: torch.Tensor, plan: TilePlan, *, run, progress: bool = False) -> torch.Tensor:
    """x (1, 3, H, W) on the CPU, or on the device where a caller holds it there (its tiles are cut where it is),
    float in [-1, 1] or uint8 -> its translation (1, 3, H, W) on the CPU, float in [-1, 1] for a float input,
    uint8 for uint8, in tiles per `plan`; `run(t)` translates one tile (1, 3, h, w), float in [-1, 1] or uint8
    as `x` is (its conversion on the device, padding and precision are its business: `inference.translate_tensor`).

    Memory beyond the input and the output (for uint8, 3 bytes a pixel each): one tile's activations and one
    row of tiles in float (3 x tile x W x 4 bytes). Rows are blended in that band and written out as soon as
    no later tile reaches them; a uint8 image is never converted to float whole. `progress`: a tqdm bar
    counting the tiles (a large photo takes minutes on a CPU), gone when the image is done."""
    _, _, h, w = x.shape
    m = size_multiple(net)
    rows = tile_starts(h, plan.tile, plan.overlap, m)
    cols = tile_starts(w, plan.tile, plan.overlap, m)
    wy, wx = _ramps(rows, plan.tile, h), _ramps(cols, plan.tile, w)
    stats: dict = {}
    if plan.thumbnail and per_instance_norms(net):
        with recording_norm_stats(net) as recorded:
            run(thumbnail_of(x, plan.thumbnail, device=next(net.parameters()).device))
        stats = dict(recorded)
    bytes_out = x.dtype == torch.uint8
    # uint8 out in (H, W, 3) memory, the layout an image file and PIL take without another copy; float in fp32
    # named (under torch.set_default_dtype(torch.float64) a tiled image came back float64, a whole one float32)
    if bytes_out:
        out = torch.empty(h, w, 3, dtype=torch.uint8).permute(2, 0, 1)[None]
    else:
        out = torch.empty(1, 3, h, w, dtype=torch.float32)
    # The weights are separable and the tiles a grid, so their sum at (y, x) is Sy(y) Sx(x): 1 where at most
    # two tiles overlap along each side, and divided out where more do (small images, large overlaps).
    sy, sx = _coverage(rows, wy, h), _coverage(cols, wx, w)
    band = torch.zeros(1, 3, max(map(len, wy)), w, dtype=torch.float32)  # the rows of one row of tiles, blended
    top, filled = 0, 0  # band[..., :filled, :] holds rows top, top + 1, ... that tiles have added to
    bar = progress_bar(  # under the images' bar: in a log file, a line a minute for a slow image
        total=len(rows) * len(cols), desc=f"tiles of {w}x{h}", unit="tile", enabled=progress, nested=True, leave=False
    )
    with bar, fixed_norm_stats(net, stats) if stats else contextlib.nullcontext():
        for i, (r, ry) in enumerate(zip(rows, wy)):
            carried = band[..., r - top : filled, :].clone()  # rows the previous row of tiles shares with this
            band.zero_()[..., : carried.shape[-2], :] = carried
            top, filled = r, len(ry)
            for c, cx in zip(cols, wx):
                y = run(x[..., r : r + len(ry), c : c + len(cx)]).cpu()  # (1, 3, th, tw); uint8 stays bytes
                band[..., : len(ry), c : c + len(cx)] += y * (ry[:, None] * cx[None, :])
                bar.update()
            done = rows[i + 1] if i + 1 < len(rows) else h  # no later tile reaches the rows above this
            final = band[..., : done - r, :].div_(sy[r:done, None] * sx[None, :])  # in place: these rows are done
            out[..., r:done, :] = as_bytes(final) if bytes_out else final
    return out


def _coverage(starts: list[int], weights: list[torch.Tensor], length: int) -> torch.Tensor:
    total = torch.zeros(length)
    for s, w in zip(starts, weights):
        total[s : s + len(w)] += w
    return total
