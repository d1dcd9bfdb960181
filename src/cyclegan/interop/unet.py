"""The reference U-Net generator now lives in `cyclegan.models.unet` (pix2pix trains it); kept here for
imports of its old place."""

from ..models.unet import UnetBlock, UnetGenerator, UnetNorm

__all__ = ["UnetBlock", "UnetGenerator", "UnetNorm"]
