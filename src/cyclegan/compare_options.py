"""The options of `cyclegan compare`, torch-free so that its `--help` starts at once. `cyclegan.compare`
runs the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import CycleGANError
from .files import check_flags_there, overwrite_option
from .options import MAX_SEED, Options, opt
from .shared_options import (
    Direction,
    checkpoint_option,
    device_option,
    direction_option,
    ema_option,
    max_pixels_option,
    progress_option,
)
from .style.options import Optimizer, StyleBackbone, backbone_option, optimizer_option, steps_option, weights_option

# The grid's default cell at most: at --size 1024 the grid of 20 images was 3078 x 20534 px (about 0.6 GB while
# written, growing as images x size^2); the full-size outputs stay in images/, and --grid-cell asks for more.
GRID_CELL_MOST = 512
SIZE_MOST = 4096  # --size at most: a thinner image than it measures is cropped, not scaled (`compare.check_measurable`)


@dataclass(frozen=True)
class CompareOptions(Options):
    """`cyclegan compare`: which generator, which content and style images, where the report goes."""

    checkpoint: str = checkpoint_option()
    content: tuple[str, ...] = opt(
        help="content images, folders or globs", metavar="IMG", nonempty="content images, folders or globs"
    )
    style: tuple[str, ...] = opt(
        help="style reference images and/or folders of target-domain images to draw references from",
        metavar="IMG",
        nonempty="style reference images or folders",
    )
    out: str = opt(
        help="output folder (created if missing)", metavar="DIR", nonempty="the folder for the comparison", writes=True
    )
    # the model's own, as translate and export: required, a pix2pix run trained BtoA needed its one direction typed
    direction: Direction | None = direction_option(None)
    ema: Literal["auto", "on", "off"] = ema_option()
    target: str | None = opt(
        None,
        "target-domain folder for KID",
        metavar="DIR",
        default_text="the first --style folder",
        nonempty="a folder of target-domain images",
    )
    # Gatys has no tiles: see GatysOptions. At 256 whatever the training size, a 64 px run was compared blurred.
    size: int | None = opt(
        None,
        "long side of the images in px",
        gt=0,
        le=SIZE_MOST,
        default_text="the run's training size, as evaluate; 256 for a generator file of another project",
    )
    refs_per_image: int = opt(1, "style references per image", gt=0)
    # at most 4096 as --size: a cell is scaled up to it, and --grid-cell 100000 asked for 3 x 120 GB of pixels
    grid_cell: int | None = opt(
        None, "pixels per grid cell", gt=0, le=4096, default_text=f"--size, at most {GRID_CELL_MOST}"
    )
    grid_palette: bool = opt(False, "256-colour grid PNG, ~3x smaller (for web pages)")
    backbone: StyleBackbone = backbone_option()
    weights: str | None = weights_option()
    steps: int = steps_option()
    optimizer: Optimizer = optimizer_option()
    seed: int = opt(0, "seed for drawing references", metavar="N", ge=0, le=MAX_SEED)
    overwrite: bool = overwrite_option()
    max_pixels: int = max_pixels_option()
    device: str = device_option()
    progress: bool = progress_option()

    def __post_init__(self) -> None:
        super().__post_init__()
        # as `stylize` refuses it (style.build_backbone): the Lite0 Gatys ran on ignored the file without a word
        if self.weights and self.backbone == "lite0":
            raise CycleGANError("option '--weights' is for the vgg19 backbone; lite0 has its weights built in")


def check_inputs_there(opts: CompareOptions) -> None:
    """Refuse a --content or --style input that names nothing, torch-free (in `compare.gather_inputs`' words):
    `compare --content MISSING` waited 5-15 s for torch's import to be told so."""
    check_flags_there((("--content", opts.content), ("--style", opts.style)))
