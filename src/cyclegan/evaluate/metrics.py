"""Per-image reconstruction metrics: L1, PSNR and SSIM.

Convention (stable API, also used by the demo's ground-truth scores): images are float tensors in the
project's range [-1, 1], shaped (B, 3, H, W) or (3, H, W). Both metrics are computed on the images mapped
to [0, 1] (data range 1), so the figures match tools that score 8-bit images scaled to [0, 1].
Pass `value_range=(0.0, 1.0)` for images already in [0, 1].

PSNR of identical images is capped at `PSNR_MAX` (100 dB) instead of +inf, so averages over a test set
stay finite; any real 8-bit difference is far below the cap (one grey level everywhere is 48.1 dB).
"""

from __future__ import annotations

import math

import torch

PSNR_MAX = 100.0  # dB; the value for identical images (MSE floored at 1e-10 on the [0, 1] scale)
_MSE_FLOOR = 10.0 ** (-PSNR_MAX / 10.0)


def to_unit(x: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Map images from `value_range` to [0, 1] as float32 (values outside are clamped)."""
    lo, hi = value_range
    return ((x.float() - lo) / (hi - lo)).clamp(0.0, 1.0)


def _batched(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
    if a.shape != b.shape:
        raise ValueError(f"images must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.dim() == 3:
        return a.unsqueeze(0), b.unsqueeze(0), True
    if a.dim() != 4:
        raise ValueError(f"expected (B, C, H, W) or (C, H, W) images, got shape {tuple(a.shape)}")
    return a, b, False


def l1(a: torch.Tensor, b: torch.Tensor, *, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Mean absolute difference per image, in the units of `value_range` (as the cycle/identity losses).

    a, b: (B, C, H, W) or (C, H, W). Returns (B,) or a scalar tensor.
    """
    a, b, single = _batched(a, b)
    out = (a.float() - b.float()).abs().flatten(1).mean(1)
    return out[0] if single else out


def psnr(a: torch.Tensor, b: torch.Tensor, *, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image, computed on [0, 1] (data range 1).

    a, b: (B, C, H, W) or (C, H, W) in `value_range` (default [-1, 1]). Returns (B,) or a scalar tensor.
    Identical images give PSNR_MAX (100 dB), not inf.
    """
    a, b, single = _batched(a, b)
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
    from torchmetrics.functional.image import structural_similarity_index_measure

    a, b, single = _batched(a, b)
    h, w = a.shape[-2:]
    if min(h, w) < 3:
        raise ValueError(f"SSIM needs images of at least 3x3 pixels, got {h}x{w}")
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


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB of a mean squared error on the [0, 1] scale, capped like `psnr`."""
    return -10.0 * math.log10(max(mse, _MSE_FLOOR))
