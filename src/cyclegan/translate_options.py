"""The options of `cyclegan translate`, torch-free so that its `--help` and the parser start at once: which
files, generator and outputs (`TranslateOptions`), when and how large images go in tiles (`TilingOptions`; the
tiling itself is `cyclegan.tiling`) and how a clip's frames are kept consistent (`TemporalOptions`;
`cyclegan.temporal`). `cyclegan.translation` runs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from .errors import CycleGANError
from .files import not_there, overwrite_option
from .options import Options, not_standard_input, opt
from .shared_options import (
    Direction,
    ExecutionOptions,
    checkpoint_option,
    device_option,
    direction_option,
    ema_option,
    max_pixels_option,
    progress_option,
)

# The generator's activations per call: enough for the default thumbnail of a square 1024 px image (1.05 MP
# at about 1.15 KB per pixel for the paper ResNet), and a 6000x4000 photo stays under 3 GB in all.
DEFAULT_MAX_MEMORY_GB = 1.25
MAX_MEMORY_GB = 1e6  # far over any machine: --max-memory 1e308 overflowed the tile's side (an OverflowError traceback)
DEFAULT_OVERLAP = 64  # pixels shared by neighbouring tiles (the paper generator's context fades over ~80 px)
DEFAULT_THUMBNAIL = 1024  # long side of the thumbnail whose InstanceNorm statistics the tiles share
# The thinnest a thumbnail is made, long side to short: a thin image's keeps a quarter of --thumbnail across (256 px by
# default), or all it has, within --max-memory. A long side of 1024 made a 20000 x 20 strip's thumbnail 1024 x 1, whose
# statistics were its padding's: the tiles came out 100 grey levels off the whole image (a photo's is not touched).
THUMBNAIL_ASPECT = 4
# The smallest tile worth translating: a 32 px tile (overlap at most 8 px for automatic tiles) is already a
# quarter border on each side; below it a tile shows mostly its own edges (8 px tiles left the whole image 31
# grey levels off). A budget, --tile or --thumbnail that would go below it is refused, naming the option.
MIN_TILE = 32


def nothing_to_translate(errors: Sequence[str]) -> CycleGANError:
    """The refusal of inputs that name no file at all, `errors` saying why each is empty."""
    return CycleGANError(f"nothing to translate: {'; '.join(errors)}; give existing images, clips or folders")


def check_inputs_there(inputs: Sequence[str]) -> None:
    """Refuse inputs none of which is there (no path, no glob pattern), torch-free: `translate MISSING` waited 5-15 s
    for torch's import to be told so. Any other empty input (a folder without images, a FIFO, a pattern matching
    nothing) is `translation.check_some_input`'s, with the same words."""
    if len(missing := not_there(inputs)) == len(inputs):
        raise nothing_to_translate(missing)


def max_memory_option() -> Any:
    """`--max-memory`, one definition: `translate`'s (`TilingOptions`) and `serve`'s, which holds its page's
    Translate and Video jobs to it."""
    return opt(
        DEFAULT_MAX_MEMORY_GB,
        "GB the generator's activations may take at once (estimated); a larger image is translated in tiles that "
        "fit; a clip's flow blend (about 80 bytes a pixel of a frame) is held to it too",
        gt=0,
        le=MAX_MEMORY_GB,
    )


@dataclass(frozen=True)
class TilingOptions(Options):
    """When and how an image is translated in tiles (flattened into `translate`'s flags)."""

    naming: ClassVar[str] = "keyword"  # built by hand for translate_video(tiling=..., temporal=...)

    tile: int | None = opt(
        None,
        "translate in tiles of N px (0: always the whole image at once)",
        ge=0,
        default_text="tiles only for an image whose activations would exceed --max-memory",
    )
    tile_overlap: int = opt(
        DEFAULT_OVERLAP, "pixels neighbouring tiles share, blended with a raised-cosine window", ge=0
    )
    max_memory: float = max_memory_option()
    thumbnail: int = opt(
        DEFAULT_THUMBNAIL,
        "long side (px) of the thumbnail whose InstanceNorm statistics every tile uses (a thin image's keeps a quarter "
        "of it across, or all it has; 0: each tile its own statistics, which leaves seams); at least 32",
        ge=0,
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.tile and self.tile < MIN_TILE:
            raise CycleGANError(
                f"option '--tile' {self.tile} is under the smallest useful tile, {MIN_TILE} px (0: never tile)"
            )
        if self.thumbnail and self.thumbnail < MIN_TILE:  # 1 was silently 8 px: statistics of a few pixels
            raise CycleGANError(
                f"option '--thumbnail' {self.thumbnail} is under the smallest useful thumbnail, {MIN_TILE} px "
                "(0: each tile its own statistics)"
            )
        if self.tile and 2 * self.tile_overlap >= self.tile:
            given = "" if self.tile_overlap != DEFAULT_OVERLAP else " (the default)"
            raise CycleGANError(
                f"option '--tile-overlap' {self.tile_overlap}{given} must be less than half of --tile {self.tile}: "
                f"give a --tile over {2 * self.tile_overlap} or a smaller --tile-overlap"
            )


@dataclass(frozen=True)
class TemporalOptions(Options):
    """How a clip's frames are kept consistent in time (flattened into `translate`'s flags)."""

    naming: ClassVar[str] = "keyword"  # built by hand for translate_video(tiling=..., temporal=...)

    norm_stats: Literal["frame", "shared"] = opt(
        "frame",
        "clips: InstanceNorm statistics per frame ('frame', as for photos) or a running estimate over the clip "
        "('shared', --norm-momentum; started again at each scene cut)",
    )
    norm_momentum: float = opt(
        0.1, "clips, with --norm-stats shared: weight of each new frame in the running statistics", gt=0, le=1
    )
    flow_blend: float = opt(
        0.8,
        "clips: weight of the previous output, warped by the input's optical flow (OpenCV DIS), blended in where "
        "that flow is reliable (0: off, frame by frame)",
        ge=0,
        lt=1,
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.norm_stats == "frame" and self.norm_momentum != TemporalOptions.norm_momentum:  # else ignored
            raise CycleGANError(
                f"option '--norm-momentum' {self.norm_momentum} takes effect only with --norm-stats shared "
                "(each frame has its own statistics by default): add --norm-stats shared, or drop it"
            )


@dataclass(frozen=True)
class TranslateOptions(Options):
    """`cyclegan translate`: image and clip files, folders and globs through one generator, into a folder."""

    inputs: tuple[str, ...] = opt(
        help="image or clip files (MP4, MOV, MKV, WebM, animated GIF/WebP), folders (searched recursively) or globs",
        metavar="INPUT",
        positional=True,
    )
    checkpoint: str = checkpoint_option()
    out: str = opt(
        help="output folder (created if missing)", metavar="DIR", nonempty="the folder to write into", writes=True
    )
    direction: Direction | None = direction_option(None)  # a run trained BtoA only was refused as AtoB
    ema: Literal["auto", "on", "off"] = ema_option()
    size: int | None = opt(
        None,
        "resize so the longer side is N first, N at least the generator's smallest side; a video's sides are then "
        "rounded up to even, as players' 4:2:0 video needs (a GIF's or WebP's are not) (default: keep the size)",
        gt=0,
    )
    batch_size: int = opt(4, "images of equal size, or a clip's frames, per batch", gt=0)
    ext: Literal["png", "jpg", "webp", "tif"] = opt(
        "png",
        "output format of images: jpg and webp at quality 95, jpg's colour at full resolution, tif deflated "
        "(lossless) (a clip keeps its own kind)",
    )
    overwrite: bool = overwrite_option()
    skip_existing: bool = opt(
        False,
        "translate only the inputs whose output does not exist yet, to finish an interrupted run (outputs are "
        "written whole: one that exists is complete; an empty one is refused)",
    )
    max_pixels: int = max_pixels_option()
    keep_location: bool = opt(
        False,
        "copy a clip's tags of where it was shot (its GPS position) into its output; left out by default, so that "
        "a posted output does not say where the clip was taken (a translated photo keeps no metadata at all)",
    )
    tiling: TilingOptions = opt(factory=TilingOptions)
    temporal: TemporalOptions = opt(factory=TemporalOptions)
    execution: ExecutionOptions = opt(factory=ExecutionOptions)
    device: str = device_option()
    progress: bool = progress_option()

    def __post_init__(self) -> None:
        super().__post_init__()
        # An empty path is ".": an input "$SRC" with SRC unset translated every image under the working folder
        if "" in self.inputs:
            raise CycleGANError("an INPUT is empty: give image or clip files, folders or globs (an unset variable?)")
        if "-" in self.inputs:  # "nothing to translate: -: no such file or folder", unlike every other file read
            raise not_standard_input("INPUT", "image or clip files, folders or globs")
