"""Evaluation: reconstruction metrics (L1, PSNR, SSIM, the local colour error), FID/KID and Lite0 feature distances.

Every module is imported on use (`evaluate.options` is torch-free, for `cyclegan evaluate --help`).
"""

from ..lazy import lazy_dir, lazy_exports

_EXPORTS = {".metrics": ("PSNR_MAX", "colour_patch", "l1", "local_colour", "luminance", "psnr", "ssim", "ssim_y")}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__dir__ = lazy_dir(__name__, _EXPORTS)
__all__ = [name for names in _EXPORTS.values() for name in names]
