"""Evaluation: reconstruction metrics (L1, PSNR, SSIM), FID/KID and Lite0 feature distances.

Heavy parts (feature networks, the runner) are imported from their modules on use.
"""

from .metrics import PSNR_MAX, l1, luminance, psnr, ssim, ssim_y

__all__ = ["PSNR_MAX", "l1", "luminance", "psnr", "ssim", "ssim_y"]
