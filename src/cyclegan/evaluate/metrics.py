"""Per-image metrics: L1, PSNR and SSIM (reconstruction), SSIM of the luminance (structure, not colour), and the
local colour error (the worst patch's mean colour off the truth's: a blob of the wrong colour that PSNR averages away).

Convention (stable API, also used by the demo's ground-truth scores): images are float tensors in the
project's range [-1, 1], shaped (B, 3, H, W) or (3, H, W); pass `value_range=(0.0, 1.0)` for images already
in [0, 1]. Whatever the inputs' range, the figures are on fixed scales: L1 in [-1, 1] units (as the cycle
and identity losses), PSNR and SSIM on the images mapped to [0, 1] (data range 1), so the latter match tools
that score 8-bit images scaled to [0, 1].

PSNR of identical images is capped at `PSNR_MAX` (100 dB) instead of +inf, so averages over a test set
stay finite; any real 8-bit difference is far below the cap (one grey level everywhere is 48.1 dB).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F_  # F is the paper's generator
from torchmetrics.functional.image import structural_similarity_index_measure

from ..errors import CycleGANError

PSNR_MAX = 100.0  # dB; the value for identical images (MSE floored at 1e-10 on the [0, 1] scale)
_MSE_FLOOR = 10.0 ** (-PSNR_MAX / 10.0)
LUMA_BT601 = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights of R, G, B in the luminance Y (JPEG's YCbCr)


class MetricInputError(CycleGANError, ValueError):
    """Inputs a metric cannot score (shapes that differ, an empty value range): a CycleGANError, as every refusal
    of the package's API (one line; a caller catching it caught none of these), and a ValueError, as before."""


def luminance(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> (B, 1, H, W) luma Y (ITU-R BT.601) in [0, 1]."""
    weights = torch.tensor(LUMA_BT601, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True)


def to_unit(x: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Map images from `value_range` to [0, 1] as float32 (values outside are clamped)."""
    lo, hi = _range(value_range)
    return ((x.float() - lo) / (hi - lo)).clamp(0.0, 1.0)


def _range(value_range: tuple[float, float]) -> tuple[float, float]:
    """(lo, hi) with lo < hi, both finite: (1, 1) divided by zero and scored every pair 100 dB, (1, -1) inverted."""
    try:  # None or (0,) was a raw TypeError or "not enough values to unpack"
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise MetricInputError(f"value_range must be (low, high), two numbers, got {value_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise MetricInputError(f"value_range must be (low, high) with low < high, got {tuple(value_range)}")
    return lo, hi


def _batched(
    a: torch.Tensor, b: torch.Tensor, value_range: tuple[float, float]
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(a, b) as (B, C, H, W) and whether they were one image each; refusing, in one line, what is no tensor (a
    numpy array was "'numpy.ndarray' object has no attribute 'dim'") and integer pixels scored in a range of
    at most 2 (uint8 [0, 255] images clamped to the default [-1, 1]: scored as near white, without a word)."""
    for name, x in (("a", a), ("b", b)):
        if not isinstance(x, torch.Tensor):
            numpy = ": from numpy give torch.from_numpy(x)" if hasattr(x, "__array__") else ""
            raise MetricInputError(f"{name}: expected an image tensor, got {type(x).__name__}{numpy}")
        lo, hi = _range(value_range)
        if not x.is_floating_point() and hi - lo <= 2:
            raise MetricInputError(
                f"{name}: {x.dtype} pixels scored in value_range {(lo, hi)}: give value_range=(0, 255) for 8-bit "
                "values, or float images in [-1, 1]"
            )
    if a.shape != b.shape:
        raise MetricInputError(f"images must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.dim() == 3:
        return a.unsqueeze(0), b.unsqueeze(0), True
    if a.dim() != 4:
        raise MetricInputError(f"expected (B, C, H, W) or (C, H, W) images, got shape {tuple(a.shape)}")
    return a, b, False


def l1(a: torch.Tensor, b: torch.Tensor, *, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Mean absolute difference per image, in [-1, 1] image units (as the cycle/identity losses): in [0, 2].

    a, b: (B, C, H, W) or (C, H, W) in `value_range` (default [-1, 1]; images in [0, 1] score twice their
    raw difference, as they would once mapped to [-1, 1]). Not clamped. Returns (B,) or a scalar tensor.
    """
    a, b, single = _batched(a, b, value_range)
    lo, hi = _range(value_range)
    out = (a.float() - b.float()).abs().flatten(1).mean(1) * (2.0 / (hi - lo))  # x 1.0 for [-1, 1]: exact
    return out[0] if single else out


def psnr(a: torch.Tensor, b: torch.Tensor, *, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image, computed on [0, 1] (data range 1).

    a, b: (B, C, H, W) or (C, H, W) in `value_range` (default [-1, 1]). Returns (B,) or a scalar tensor.
    Identical images give PSNR_MAX (100 dB), not inf.
    """
    a, b, single = _batched(a, b, value_range)
    mse = (to_unit(a, value_range) - to_unit(b, value_range)).pow(2).flatten(1).mean(1)
    out = -10.0 * torch.log10(mse.clamp_min(_MSE_FLOOR))
    return out[0] if single else out


def _ssim_kernel(h: int, w: int) -> int:
    """The standard 11x11 Gaussian window, shrunk to the largest odd size that fits tiny images."""
    k = min(11, h, w)
    return k if k % 2 else k - 1


def ssim(a: torch.Tensor, b: torch.Tensor, *, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Structural similarity per image (Wang et al. 2004: Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03),
    computed on [0, 1] with data range 1, averaged over channels and positions.

    a, b: (B, C, H, W) or (C, H, W) in `value_range` (default [-1, 1]), H and W >= 3.
    Returns (B,) or a scalar tensor in [-1, 1]; identical images give 1.
    """

    a, b, single = _batched(a, b, value_range)
    h, w = a.shape[-2:]
    if min(h, w) < 3:
        raise MetricInputError(f"SSIM needs images of at least 3x3 pixels, got {h}x{w}")
    if len(a) == 0:  # torchmetrics fails on an empty batch (IndexError); psnr and l1 give (0,) too
        return a.new_zeros(0, dtype=torch.float32)
    k = _ssim_kernel(h, w)
    out = structural_similarity_index_measure(
        to_unit(a, value_range),
        to_unit(b, value_range),
        gaussian_kernel=True,
        sigma=1.5 * k / 11,  # keep the window's shape when it is shrunk
        kernel_size=k,
        data_range=1.0,
        reduction="none",
    )
    return out[0] if single else out


def ssim_y(a: torch.Tensor, b: torch.Tensor) -> float:
    """SSIM of the luminance of two RGB images (1, 3, H, W) in [0, 1]: structure, not colour; 1 = identical."""
    return float(ssim(luminance(a), luminance(b), value_range=(0.0, 1.0)))


PATCH_FRACTION = 8  # local_colour's patch: an eighth of the short side, 8 x 8 px at 64 px (a house wall's size there)


def colour_patch(h: int, w: int) -> int:
    """The side of `local_colour`'s square patch on images of h x w pixels: an eighth of the short side, at least 1."""
    return max(1, round(min(h, w) / PATCH_FRACTION))


def local_colour(
    a: torch.Tensor, b: torch.Tensor, *, patch: int | None = None, value_range: tuple[float, float] = (-1.0, 1.0)
) -> tuple[torch.Tensor, torch.Tensor]:
    """The local colour error per image: over every patch x patch window (stride 1; `colour_patch` by default), the
    mean colour of a's less b's, its largest channel, the worst window's, in grey levels (0-255 on [0, 1] images).
    A blob of the wrong colour (a wall painted the sky's, a halo) is a few percent of the pixels, which PSNR, SSIM
    and a mean colour average away; a patch's mean is blind to noise and blurred edges, which keep it.

    a, b: (B, 3, H, W) or (3, H, W) in `value_range` (default [-1, 1]). Returns the errors (B,) and the worst
    windows' top-left corners (B, 2) as (x, y) pixels (a scalar and (2,) for one image each).
    """
    if patch is not None and (isinstance(patch, bool) or not isinstance(patch, int)):
        # a float's slicing raised a TypeError from deep inside ("slice indices must be integers")
        raise MetricInputError(
            f"local_colour's patch is a whole number of pixels (or None: an eighth of the side), got {patch!r}"
        )
    a, b, single = _batched(a, b, value_range)
    h, w = a.shape[-2:]
    k = min(patch or colour_patch(h, w), h, w)
    if k < 1:
        raise MetricInputError(f"local_colour needs a patch of 1 pixel or more on images of 1x1 or more, got {k}")
    diff = to_unit(a, value_range) - to_unit(b, value_range)
    # one image at a time: the float64 tables of a whole batch were 5x its float32 bytes at once (--eval-images
    # 10000 at 256 px: 40 GB on top of the images, in a training run's scoring)
    worst, at = (
        torch.cat(parts).to(a.device) for parts in zip(*(_window_errors(d, k) for d in diff.split(1)), strict=True)
    )  # on the inputs' device, wherever the tables were built (`_float64`)
    where = torch.stack([at % (w - k + 1), at // (w - k + 1)], 1)  # (B, 2): x, y
    return (worst[0], where[0]) if single else (worst, where)


def _window_errors(d: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,) each: the largest error over the k x k windows of the differences d (B, 3, H, W) on [0, 1], the
    largest channel's, in grey levels, and its window's index in the (H-k+1, W-k+1) grid."""
    error = _window_means(d, k).abs().amax(1).flatten(1) * 255.0  # (B, windows)
    return error.float().max(1)


def _float64(x: torch.Tensor) -> torch.Tensor:
    """x in float64: on its own device, or on the CPU where that device has no float64 (Apple's MPS raises "Cannot
    convert a MPS Tensor to float64 dtype", a TypeError: `local_colour` of MPS tensors failed)."""
    try:
        return x.double()
    except TypeError:
        return x.cpu().double()


def _window_means(x: torch.Tensor, k: int) -> torch.Tensor:
    """The mean of every k x k window of x (B, C, H, W), stride 1: (B, C, H-k+1, W-k+1), from summed-area tables
    (a constant cost per window, not k * k: a 32 px patch at 256 px), in float64 so the differences stay exact."""
    s = F_.pad(_float64(x), (1, 0, 1, 0)).cumsum(2).cumsum(3)  # s[..., i, j]: the sum of x[..., :i, :j]
    return (s[..., k:, k:] - s[..., :-k, k:] - s[..., k:, :-k] + s[..., :-k, :-k]) / (k * k)
