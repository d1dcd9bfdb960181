"""The options of Gatys style transfer and `cyclegan stylize`, torch-free so that `stylize --help` and
`compare --help` start at once: the optimisation's knobs (`GatysOptions`), the command's files
(`StylizeOptions`), and the fields `cyclegan compare` shares, one definition each as field factories.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import CycleGANError
from ..files import IMAGE_EXTENSIONS, check_names_a_file, overwrite_option
from ..options import MAX_SEED, Options, opt
from ..shared_options import device_option, max_pixels_option, progress_option

BackboneName = Literal["vgg19", "lite0"]
Optimizer = Literal["lbfgs", "adam"]
Init = Literal["content", "noise"]
StyleBackbone = Literal["auto", "vgg19", "lite0"]
ADAM_LR = 0.02  # in [0, 1] pixel units: 300 steps move a pixel far enough to take on the style
# --size and --style-size at most; an image too thin even there is told to be cropped (`gatys.too_thin`), not sent to
# a long side the options refuse
SIZE_MOST = 4096
MAX_WEIGHT = 1e10  # of a loss term: 10^4 times the largest default (VGG19's style weight, 1e6)


def backbone_option() -> Any:
    return opt(
        "auto",
        "feature network: vgg19 (torchvision's ImageNet weights, cached or --weights) or lite0 "
        "(EfficientNet-Lite0, weights shipped, offline); auto: vgg19 if --weights is given or its weights are cached, "
        "else lite0",
    )


def weights_option() -> Any:
    return opt(
        None, "VGG19 weights file in torchvision's key format (vgg19 only)", metavar="PATH", nonempty="the weights file"
    )


def steps_option() -> Any:
    # > 0: with 0 the content image was written (or compared) as Gatys' result, "0 steps", without a word
    return opt(300, "forward+backward passes", gt=0)


def optimizer_option() -> Any:
    return opt("lbfgs", "pixel optimiser")


@dataclass(frozen=True)
class GatysOptions(Options):
    """The knobs of one Gatys optimisation. None for a weight or a layer list takes the backbone's default
    (`cyclegan.style.DEFAULTS`); `size=None` keeps the content image's size (Python API only)."""

    style_blend: tuple[float, ...] | None = opt(
        None,
        "one weight per style image, in --style's order (a folder's images sorted by name), normalised to sum 1",
        ge=0,
        metavar="W",
        default_text="equal",
    )
    backbone: StyleBackbone = backbone_option()
    weights: str | None = weights_option()
    # At most SIZE_MOST: Gatys optimises the whole image at once (no tiles), and 100000 px was killed for memory
    size: int | None = opt(512, "long side of the output in px", gt=0, le=SIZE_MOST)
    style_size: int | None = opt(None, "long side of the style images", gt=0, le=SIZE_MOST, default_text="--size")
    steps: int = steps_option()
    optimizer: Optimizer = optimizer_option()
    # At most MAX_WEIGHT: past it L-BFGS stopped moving the pixels (--tv-weight 1e30, --style-weight 1e20) or the
    # loss climbed to NaN (--content-weight 1e16), so the content image came back as the result without a word
    content_weight: float | None = opt(None, "content loss weight", ge=0, le=MAX_WEIGHT, default_text="per backbone")
    # > 0: without a style term the optimisation ran for minutes to return the content image, without a word
    style_weight: float | None = opt(None, "style loss weight", gt=0, le=MAX_WEIGHT, default_text="per backbone")
    tv_weight: float | None = opt(None, "total variation weight", ge=0, le=MAX_WEIGHT, default_text="per backbone")
    content_layers: tuple[str, ...] | None = opt(None, "layer names", metavar="L", default_text="per backbone")
    style_layers: tuple[str, ...] | None = opt(None, "layer names", metavar="L", default_text="per backbone")
    init: Init = opt("content", "start image")
    preserve_color: bool = opt(False, "keep the content's colours (luminance transfer)")
    # Under 1: Adam's first step moves each pixel by about --lr, and at 1 or more every pixel landed on 0 or 1 (the
    # clamp): --lr 5 wrote an image of eight saturated colours as the result, without a word
    lr: float = opt(ADAM_LR, "Adam learning rate, pixels in [0, 1] (--optimizer adam only)", gt=0, lt=1)
    seed: int = opt(0, "seed for --init noise", metavar="N", ge=0, le=MAX_SEED)

    def __post_init__(self) -> None:
        super().__post_init__()
        # L-BFGS finds its own step by line search: an --lr with it was read by nothing, without a word
        if self.optimizer == "lbfgs" and self.lr != ADAM_LR:
            raise CycleGANError(
                "option '--lr' is Adam's learning rate and does not apply with --optimizer lbfgs (the default): "
                "add --optimizer adam, or drop --lr"
            )


@dataclass(frozen=True)
class StylizeOptions(Options):
    """`cyclegan stylize`: one content image in the style of others, written to an image file."""

    content: str = opt(help="the image whose content is kept", metavar="IMG", nonempty="an image file")
    style: tuple[str, ...] = opt(
        help="one or more style images or folders of them (a folder's images sorted by name, as compare reads "
        "--style), blended into one style",
        metavar="IMG",
        nonempty="image files or folders",
    )
    out: str = opt(help="output image (png, jpg, ...)", metavar="FILE", nonempty="the image file to write", writes=True)
    overwrite: bool = overwrite_option()
    gatys: GatysOptions = opt(factory=GatysOptions)
    device: str = device_option()
    progress: bool = progress_option()
    max_pixels: int = max_pixels_option("stop (naming it) at")  # a photo of 108 MP could not be stylised at any --size

    def __post_init__(self) -> None:
        super().__post_init__()
        # Only noise is drawn: a --seed with the content as the start image was read by nothing, without a word
        if self.gatys.init == "content" and self.gatys.seed != 0:
            raise CycleGANError(
                "option '--seed' seeds --init noise and does not apply with --init content (the default): add "
                "--init noise, or drop --seed"
            )
        # Checked before the optimisation, which can take minutes, rather than by the save after it.
        check_names_a_file(
            self.out, option="--out", example="stylized.png", suffixes=IMAGE_EXTENSIONS, what="image file"
        )
        if Path(self.out).suffix.lower() not in IMAGE_EXTENSIONS:
            # ".png, .jpg, ..." read as if .gif were one: name them all
            raise CycleGANError(
                f"option '--out': {self.out} needs the extension of a format stylize writes: "
                + ", ".join(IMAGE_EXTENSIONS)
            )
