"""Evaluation: reconstruction metrics (L1, PSNR, SSIM), FID/KID and Lite0 feature distances, benchmarks.

Heavy parts (feature networks, the runner, bench) are imported from their modules on use.
"""

from .metrics import PSNR_MAX, l1, psnr, ssim

__all__ = ["PSNR_MAX", "l1", "psnr", "ssim"]
