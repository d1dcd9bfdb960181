"""The options of `cyclegan bench`: `BenchOptions`, with the style and tiles tasks' own options nested in it
(their flags are flattened into `cyclegan bench`'s)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

from .. import families
from ..errors import CycleGANError, counted
from ..files import check_names_a_file, overwrite_option
from ..options import MAX_SEED, Options, flag_of, opt
from ..presets import preset_choices
from ..shared_options import (
    MAX_PIXELS,
    OnOff,
    Precision,
    channels_last_option,
    compile_option,
    device_option,
    precision_option,
    progress_option,
)
from ..style.options import BackboneName
from ..translate_options import MIN_TILE

Task = Literal["train", "style", "tiles"]
# what only --task train reads; --device, --threads, --json and --overwrite serve every task
TRAIN_ONLY = frozenset(
    ("preset", "model", "size", "batch_size", "steps", "warmup", "translate_batches", "mode")
    + ("precision", "channels_last", "compile", "seed")
)
Mode = Literal["reference", "default", "both"]
STYLE_MAX_SIZE = 4096  # pixels, the long side stylize's --size allows (GatysOptions.size)
JPEG_MAX_SIDE = 65500  # pixels a side Pillow writes in a JPEG (libjpeg's limit)


@dataclass(frozen=True)
class StyleBenchOptions(Options):
    """The options of `--task style` (flattened into `cyclegan bench`'s flags)."""

    content: str | None = opt(
        None, "content image file (--task style; required there)", metavar="FILE", nonempty="an image file"
    )
    style: str | None = opt(
        None, "style image file (--task style; required there)", metavar="FILE", nonempty="an image file"
    )
    checkpoint: str | None = opt(
        None,
        "generator to time beside the paper's with --task style (run folder, file or pretrained:NAME)",
        metavar="RUN_OR_FILE",
        default_text="the paper generator with random weights only",
        nonempty="a run folder, a checkpoint file or pretrained:NAME",
    )
    # the model's own, as translate and --tile-direction: BtoA refused a generator file holding G alone
    direction: Literal["AtoB", "BtoA"] | None = opt(
        None, "direction of --checkpoint (--task style)", default_text="the model's own, as translate's --direction"
    )
    gatys_steps: int = opt(300, "Gatys steps per image (forward+backward passes of the backbone)", gt=0)
    probe_steps: int = opt(20, "steps timed per estimated Gatys case (setup + steps x their median)", ge=2)
    repeat: int = opt(3, "repeats of the full Gatys run (first backbone, first size)", gt=0)
    # at most stylize's --size (GatysOptions): a larger one failed when its case came, naming 'size', or was
    # allocated whole (100000 px: killed for memory)
    style_sizes: tuple[int, ...] = opt(
        (256, 512), "long sides in pixels to time Gatys and CycleGAN at", gt=0, le=STYLE_MAX_SIZE
    )
    backbones: tuple[BackboneName, ...] = opt(("lite0", "vgg19"), "Gatys feature networks to time")

    def __post_init__(self) -> None:
        super().__post_init__()
        for flag, values in (("--style-sizes", self.style_sizes), ("--backbones", self.backbones)):
            twice = next((v for i, v in enumerate(values) if v in values[:i]), None)
            if twice is not None:  # timed once (a backbone) or twice over (a size): a row dropped or repeated
                raise CycleGANError(f"option '{flag}' names {twice} twice; give each once")


@dataclass(frozen=True)
class TileBenchOptions(Options):
    """The options of `--task tiles` (flattened into `cyclegan bench`'s flags)."""

    tile_checkpoint: str | None = opt(
        None,
        "generator to measure with --task tiles (run folder, file or pretrained:NAME)",
        metavar="RUN_OR_FILE",
        default_text="the paper generator with random weights",
        nonempty="a run folder, a checkpoint file or pretrained:NAME",
    )
    # the model's own, as translate: AtoB refused a pix2pix run trained BtoA unless its one direction was typed
    tile_direction: Literal["AtoB", "BtoA"] | None = opt(
        None, "direction of --tile-checkpoint", default_text="the model's own, as translate's --direction"
    )
    photo: str | None = opt(
        None,
        "photo for --task tiles, resized to each size",
        metavar="FILE",
        default_text="a synthetic image",
        nonempty="an image file",
    )
    seam_size: int = opt(1024, "side of the square image tiled against the whole image (fp32)", gt=0)
    seam_tile: int = opt(256, "tile size for the seam measurement (default overlap)", ge=MIN_TILE)
    large: tuple[int, ...] = opt(
        (6000, 4000),
        "width and height of the image translated with `cyclegan translate`'s default options in a "
        "subprocess, for its peak memory and speed (0 0: skip)",
        ge=0,
    )
    figure: str | None = opt(
        None,
        "write a crop across a tile corner (whole | tiled | tiled without thumbnail statistics) here",
        metavar="PNG",
        nonempty="a .png file",
        writes=True,
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.large) != 2:
            raise CycleGANError(
                f"option '--large' takes a width and a height, got {counted(len(self.large), 'number')}"
            )
        if self.seam_tile >= self.seam_size:  # one tile, the whole image: "0.00 grey levels" measured no seam
            raise CycleGANError(
                f"option '--seam-tile' {self.seam_tile} is not smaller than --seam-size {self.seam_size}: nothing "
                "would be tiled; give a smaller --seam-tile or a larger --seam-size"
            )
        width, height = self.large
        if any(self.large) and not all(self.large):  # one side 0 skipped the run without a word
            raise CycleGANError(f"option '--large' {width} {height}: give a width and a height above 0, or 0 0 to skip")
        # Refused here, not after the seams: the photo is saved as a JPEG (a traceback past its largest side) and
        # read back by `cyclegan translate` with its default decode cap, which skips a larger one
        if max(width, height) > JPEG_MAX_SIDE:
            raise CycleGANError(
                f"option '--large' {width} {height}: the photo is written as a JPEG, which holds at most "
                f"{JPEG_MAX_SIDE} px a side; give smaller sides"
            )
        if width * height > MAX_PIXELS:
            raise CycleGANError(
                f"option '--large' {width} {height}: {width * height / 1e6:g} MP is over `cyclegan translate`'s "
                f"default decode cap ({MAX_PIXELS} pixels, --max-pixels), which would skip it; give smaller sides"
            )


@dataclass(frozen=True)
class BenchOptions(Options):
    """What `cyclegan bench` measures; see `cyclegan bench --help` for each option."""

    task: Task = opt(
        "train",
        "train: training steps and translation; style: Gatys against CycleGAN per image; "
        "tiles: tiled against whole-image translation, and a large photo's memory and speed",
    )
    preset: str | None = opt(
        None, "architecture recipe to time (paper, seed, fast)", default_text="paper", choices=preset_choices
    )
    model: str | None = opt(
        None,
        "model family to time: cyclegan, pix2pix, cut or fastcut",
        flag="--model",
        choices=families.names,
        default_text="cyclegan",
    )
    size: int | None = opt(None, "image size", gt=0, default_text="the preset's")
    batch_size: int | None = opt(None, "training batch", gt=0, default_text="the preset's; 1 in reference mode")
    steps: int = opt(5, "timed training steps", gt=0)
    warmup: int = opt(1, "untimed steps first", ge=0)
    translate_batches: int | None = opt(None, "timed translation batches", gt=0, default_text="as --steps, at least 10")
    mode: Mode = opt(
        "default",
        "reference: fp32, NCHW, eager, as the reference implementation, whatever --precision, --channels-last "
        "and --compile say (they set the default mode); default: what train and translate use by default here; "
        "both: the two interleaved step by step, with the speed-up",
    )
    # default mode only (reference is always fp32, NCHW, eager): as `cyclegan train`'s options
    precision: Precision = precision_option()
    channels_last: OnOff = channels_last_option()
    compile: OnOff = compile_option()
    device: str = device_option()
    threads: int | None = opt(
        # at most 1024: `--threads 10000` had OpenMP start that many threads
        None,
        "CPU threads (on a busy shared machine 1 is steadier)",
        gt=0,
        le=1024,
        default_text="torch's, one per core",
    )
    seed: int = opt(0, "seed of the synthetic input tensors", ge=0, le=MAX_SEED)
    json: str | None = opt(
        None, "write the measurements as JSON here", metavar="FILE", nonempty="a .json file", writes=True
    )
    overwrite: bool = overwrite_option()
    progress: bool = progress_option()  # a `pretrained:NAME` checkpoint's download: a Python caller's progress=False
    style_task: StyleBenchOptions = opt(factory=StyleBenchOptions)
    tiles_task: TileBenchOptions = opt(factory=TileBenchOptions)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_names_a_file(self.json, option="--json", example="bench.json", suffixes=(".json",))
        for flag, task in self._other_tasks_options():
            raise CycleGANError(f"option '{flag}' is for --task {task}, not {self.task}; give --task {task} or drop it")
        if self.task == "style":
            for name in ("content", "style"):
                if getattr(self.style_task, name) is None:
                    raise CycleGANError(f"option '--{name}' is required with --task style")

    def _other_tasks_options(self) -> list[tuple[str, str]]:
        """(flag, its task) of each option another task than `task` reads, set away from its default: the tasks'
        flags are flattened into one command, and such an option was ignored without a word (`--checkpoint`
        with --task train timed the paper preset, not the checkpoint)."""
        groups = [(self, "train"), (self.style_task, "style"), (self.tiles_task, "tiles")]
        return [
            (flag_of(f), task)
            for group, task in groups
            if task != self.task
            for f in fields(group)
            if (task != "train" or f.name in TRAIN_ONLY) and getattr(group, f.name) != f.default
        ]
