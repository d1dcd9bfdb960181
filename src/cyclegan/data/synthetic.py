"""A built-in summer/winter world with ground truth: procedural landscapes rendered in two styles.

A scene (horizon, hills, sun, trees, houses, a lake) is drawn from a seed; `render(scene, style)` paints
it as summer or winter. The mapping between the styles depends on what each pixel belongs to (snow on
the ground, on roofs and on the tops of pines, bare grey deciduous crowns, ice on the lake, a paler
sky), so it is not a global colour transform. Because one scene renders in both styles, every test
image has its true translation.

Everything is deterministic: the same seed gives the same pixels on every machine (NumPy's PCG64).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from ..errors import CycleGANError, byte_size
from ..files import check_not_a_file, check_out_folder, claim_folder, marked_unfinished, unfinished, write_atomic
from ..options import MAX_SEED, Options, opt
from ..progress import progress_bar
from ..shared_options import progress_option

Style = Literal["summer", "winter"]
SMALLEST_SIZE = 16  # --size below it is refused
LARGEST_SIZE = 4096  # rendering a 4096 px scene peaks at about 6 GB (370 bytes a pixel, supersampled)
# A clip's world is 2 SIZE wide and rendered whole for every frame: --video --size 4096 rendered 8192 px,
# about 25 GB, and was killed for memory; 2048 peaks where a 4096 px image does
LARGEST_VIDEO_SIZE = LARGEST_SIZE // 2
MAX_FRAMES = 12 * 3600  # --frames: an hour of clip
# --count and --test-count, --clips: a mistyped 10**9 filled the disk. A million images a domain is over a
# thousand times the standard sets; what fits the disk is checked too (`check_room`)
MAX_COUNT = 10**6
# A scene's PNG grows with its side, not its area (flat colours): 14 to 25 bytes per pixel of side measured from 16
# to 1024 px, so 12 keeps `check_room`'s estimate under every one
PNG_BYTES_PER_SIDE = 12
MAX_CLIPS = 1000
SUPERSAMPLE = 2  # render at 2x and downsample: anti-aliased edges

# Colours per style for each kind of surface; walls and trunks look the same in both seasons.
PALETTE: dict[str, dict[str, tuple]] = {
    "summer": {
        "sky_top": (60, 120, 215),
        "sky_horizon": (165, 205, 240),
        "sun": (255, 215, 70),
        "ground_near": (48, 118, 40),
        "ground_far": (96, 165, 70),
        "pine": (24, 88, 44),
        "leaf": (70, 150, 55),
        "roof": (170, 55, 40),
        "lake": (50, 110, 190),
        "window": (250, 225, 120),
        "snow": (48, 118, 40),
        "cloud": (250, 250, 252),
    },
    "winter": {
        "sky_top": (140, 155, 178),
        "sky_horizon": (214, 220, 230),
        "sun": (240, 238, 225),
        "ground_near": (236, 240, 247),
        "ground_far": (206, 216, 232),
        "pine": (20, 60, 40),
        "leaf": (125, 112, 100),
        "roof": (242, 244, 248),
        "lake": (175, 205, 225),
        "window": (255, 200, 90),
        "snow": (245, 247, 252),
        "cloud": (188, 194, 206),
    },
}
TRUNK = (95, 65, 40)
# The folders a dataset root holds (images, pix2pix pairs, clips): a new dataset's --out is never inside one.
DATASET_FOLDERS = ("trainA", "trainB", "testA", "testB", "train", "val", "test", "videoA", "videoB", "cameras")
WALLS = ((200, 170, 120), (180, 90, 60), (220, 210, 190), (150, 120, 90), (120, 140, 170))


@dataclass(frozen=True)
class Tree:
    x: float  # centre, 0..1 of the width
    height: float  # 0..1 of the height
    kind: Literal["pine", "leaf"]


@dataclass(frozen=True)
class House:
    x: float
    width: float
    height: float
    wall: int  # index into WALLS


@dataclass(frozen=True)
class Scene:
    horizon: float  # mean height of the horizon, 0 (top) .. 1 (bottom)
    hill_amp: float
    hill_freq: float
    hill_phase: float
    sun: tuple[float, float, float]  # x, y, radius
    lake: tuple[float, float, float] | None  # x, y, half-width (an ellipse on the ground)
    trees: tuple[Tree, ...] = field(default_factory=tuple)
    houses: tuple[House, ...] = field(default_factory=tuple)


def sample_scene(rng: np.random.Generator) -> Scene:
    """Draw a random scene's layout (no colours: those come from the style)."""
    horizon = rng.uniform(0.42, 0.62)
    trees = tuple(
        Tree(x=rng.uniform(0.03, 0.97), height=rng.uniform(0.15, 0.32), kind=("pine", "leaf")[rng.integers(2)])
        for _ in range(rng.integers(1, 6))
    )
    houses = tuple(
        House(
            x=rng.uniform(0.1, 0.9),
            width=rng.uniform(0.14, 0.24),
            height=rng.uniform(0.1, 0.16),
            wall=int(rng.integers(len(WALLS))),
        )
        for _ in range(rng.integers(0, 3))
    )
    lake = (
        (rng.uniform(0.2, 0.8), rng.uniform(horizon + 0.15, 0.92), rng.uniform(0.12, 0.25))
        if rng.random() < 0.4
        else None
    )
    return Scene(
        horizon=horizon,
        hill_amp=rng.uniform(0.0, 0.06),
        hill_freq=rng.uniform(0.5, 2.0),
        hill_phase=rng.uniform(0, 2 * np.pi),
        sun=(rng.uniform(0.1, 0.9), rng.uniform(0.08, horizon - 0.15), rng.uniform(0.04, 0.08)),
        lake=lake,
        trees=trees,
        houses=houses,
    )


def _paint(img: np.ndarray, mask: np.ndarray, colour) -> None:
    img[mask] = colour


def render(scene: Scene, style: Style, size: int, clouds: tuple[tuple[float, float, float], ...] = ()) -> np.ndarray:
    """Paint `scene` in `style` -> uint8 array (size, size, 3). `clouds`: (x, y, radius) of each cloud in
    the sky (white in summer, grey in winter; behind hills, trees and houses)."""
    pal = PALETTE[style]
    n = size * SUPERSAMPLE
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / n  # pixel centres in [0, 1)
    img = np.zeros((n, n, 3), np.float32)

    t = np.clip(yy / scene.horizon, 0, 1)[..., None]  # sky: gradient from the top to the horizon
    img[:] = (1 - t) * np.array(pal["sky_top"]) + t * np.array(pal["sky_horizon"])
    sx, sy, sr = scene.sun
    _paint(img, (xx - sx) ** 2 + (yy - sy) ** 2 < sr**2, pal["sun"])
    for cx, cy, cr in clouds:  # three overlapping flattened discs
        puffs = [(cx - cr, cy + cr * 0.2, cr * 0.7), (cx, cy, cr), (cx + cr, cy + cr * 0.25, cr * 0.65)]
        _paint(img, np.any([((xx - x) / 1.6) ** 2 + (yy - y) ** 2 < r**2 for x, y, r in puffs], 0), pal["cloud"])

    ground_line = scene.horizon + scene.hill_amp * np.sin(2 * np.pi * scene.hill_freq * xx + scene.hill_phase)
    ground = yy >= ground_line
    depth = np.clip((yy - scene.horizon) / (1 - scene.horizon), 0, 1)[..., None]  # far (0) to near (1)
    shade = depth * np.array(pal["ground_near"]) + (1 - depth) * np.array(pal["ground_far"])
    img[ground] = shade[ground]
    if scene.lake:
        lx, ly, lw = scene.lake
        _paint(img, ((xx - lx) / lw) ** 2 + ((yy - ly) / (lw * 0.3)) ** 2 < 1, pal["lake"])

    def base_at(x: float) -> float:
        return scene.horizon + scene.hill_amp * np.sin(2 * np.pi * scene.hill_freq * x + scene.hill_phase)

    for h in scene.houses:
        base = base_at(h.x) + 0.02
        left, right, top = h.x - h.width / 2, h.x + h.width / 2, base - h.height
        wall = (xx >= left) & (xx <= right) & (yy >= top) & (yy <= base)
        _paint(img, wall, WALLS[h.wall])
        roof_h = h.height * 0.8
        roof = (yy < top) & (yy > top - roof_h) & (np.abs(xx - h.x) < (h.width * 0.6) * (yy - (top - roof_h)) / roof_h)
        _paint(img, roof, pal["roof"])
        win = h.width * 0.18
        for cx in (h.x - h.width * 0.22, h.x + h.width * 0.22):
            _paint(img, (np.abs(xx - cx) < win / 2) & (np.abs(yy - (top + h.height * 0.4)) < win / 2), pal["window"])

    for tree in sorted(scene.trees, key=lambda tr: tr.height):  # small (far) first
        base = base_at(tree.x) + 0.02
        trunk_h, trunk_w = tree.height * 0.3, tree.height * 0.07
        _paint(img, (np.abs(xx - tree.x) < trunk_w) & (yy <= base) & (yy >= base - trunk_h), TRUNK)
        top = base - tree.height
        if tree.kind == "pine":
            crown_h = tree.height - trunk_h * 0.6
            rel = (yy - top) / crown_h  # 0 at the tip, 1 at the crown's base
            crown = (rel >= 0) & (rel <= 1) & (np.abs(xx - tree.x) < tree.height * 0.32 * rel)
            _paint(img, crown, pal["pine"])
            _paint(img, crown & (rel < 0.35), pal["snow"] if style == "winter" else pal["pine"])
        else:
            r = tree.height * 0.36
            cy = top + r
            crown = (xx - tree.x) ** 2 + (yy - cy) ** 2 < r**2
            _paint(img, crown, pal["leaf"])
            _paint(img, crown & (yy < cy - r * 0.55), pal["snow"] if style == "winter" else pal["leaf"])

    out = Image.fromarray(np.clip(img, 0, 255).round().astype(np.uint8))
    return np.asarray(out.resize((size, size), Image.Resampling.BOX))


def scene_for(seed: int, index: int) -> Scene:
    """The scene with this index in the world of this seed."""
    return sample_scene(np.random.default_rng([seed, index]))


@dataclass(frozen=True)
class SyntheticOptions(Options):
    """`cyclegan datasets synthetic`: the summer/winter world as a dataset folder."""

    out: str = opt(help="dataset root to write", metavar="DIR", nonempty="the dataset's folder", writes=True)
    # 16 px is the least that shows a scene (sun, trees, a lake; 8 px is a blur of colours) and trains: the
    # generators need 8 px (tiling.least_size), a PatchGAN 2**d_layers * 3 (--d-layers 2 at 16 px)
    size: int = opt(
        64,
        f"image size in pixels (16 at least; with --video {LARGEST_VIDEO_SIZE} at most)",
        ge=SMALLEST_SIZE,
        le=LARGEST_SIZE,
    )
    count: int = opt(400, "training images per domain", gt=0, le=MAX_COUNT)
    # 1 is enough: `evaluate` scores a paired split of one scene against its truth (FD and KID left out, said);
    # `train --eval-every` needs 2 and says so at its start
    test_count: int = opt(50, "paired test scenes", gt=0, le=MAX_COUNT)
    seed: int = opt(0, "world seed", ge=0, le=MAX_SEED)
    paired: bool = opt(
        False,
        "training scenes in both styles too: trainA/NAME.png and trainB/NAME.png are one scene (pix2pix "
        "reads them as pairs; the unpaired families as two folders)",
    )
    video: bool = opt(
        False,
        "clips instead of images: videoA/clip_NNN.mp4 (summer), videoB/ (its true winter), cameras/ (the camera "
        "per frame); a camera pans and zooms over a world 2 SIZE wide in frames of 1.5 SIZE x 1.125 SIZE, the sun "
        "and clouds moving",
    )
    clips: int = opt(4, "with --video: clips", gt=0, le=MAX_CLIPS)
    # Each clip's cameras (and its JSON) are listed whole before its first frame: a mistyped --frames 10**9 was
    # gigabytes of them. An hour at 12 frames a second is more than any test of flicker needs
    frames: int = opt(48, "with --video: frames per clip (12 a second)", gt=1, le=MAX_FRAMES)
    overwrite: bool = opt(
        False,
        "replace the folders this writes in OUT (trainA, trainB, testA, testB; with --video videoA, videoB, "
        "cameras): their old files are deleted first, so no stale image stays",
    )
    progress: bool = progress_option()

    def __post_init__(self) -> None:
        super().__post_init__()


def check_applicable(opts: SyntheticOptions) -> None:
    """Refuse (one line) an option that the kind of dataset asked for does not read: `--paired`, `--count`,
    `--test-count` with `--video`, `--clips` and `--frames` without it (each was ignored without a word).
    Options left at their defaults pass. A --video --size past `LARGEST_VIDEO_SIZE` is refused too."""
    if opts.video and opts.paired:
        raise CycleGANError(
            "option '--paired' does not apply with --video: the clips are pairs already (videoB holds videoA's "
            "frames in winter); drop --paired, or drop --video for paired training images"
        )
    if opts.video and opts.size > LARGEST_VIDEO_SIZE:
        raise CycleGANError(
            f"option '--size' must be <= {LARGEST_VIDEO_SIZE} with --video, got {opts.size}: a clip's world is 2 SIZE "
            f"wide, rendered whole for each frame ({2 * opts.size} px here, more memory than a {LARGEST_SIZE} px image)"
        )
    defaults = {f.name: f.default for f in fields(SyntheticOptions)}
    unread = ("count", "test_count") if opts.video else ("clips", "frames")
    for name in unread:
        if getattr(opts, name) != defaults[name]:
            flag = f"--{name.replace('_', '-')}"
            instead = "--clips N and --frames N set the clips" if opts.video else "give --video for clips"
            raise CycleGANError(
                f"option '{flag}' does not apply {'with' if opts.video else 'without'} --video: {instead}; drop {flag}"
            )


def is_dataset_folder(folder: Path) -> bool:
    """Whether `folder` is one of a dataset's folders: named trainA (testB, videoA, ...) beside another of them,
    so a project folder that is merely called `test` is not one."""
    if folder.name not in DATASET_FOLDERS or not folder.is_dir():
        return False
    return any((folder.parent / name).is_dir() for name in DATASET_FOLDERS if name != folder.name)


def check_root(root: str | Path) -> None:
    """Refuse a root that is a file or lies under one (`files.check_not_a_file`: the words of every command), or,
    not there yet, is named as an image or clip (`--out d.png` was made a folder of that name)."""
    check_out_folder(root, holds="the dataset's folders are written into")  # as given: `--out d/` is a folder
    check_not_a_file(root)


@contextlib.contextmanager
def dataset_root_claimed(root: str | Path, folders: tuple[str, ...], *, overwrite: bool) -> Iterator[None]:
    """`claim_dataset_root`, then the block (the rendering), under a lock on `root` (`files.claim_folder`): two
    `datasets synthetic` into one --out at once each found it empty and wrote (or, with --overwrite, deleted)
    the other's images; the second now stops in one line before touching anything."""
    check_root(root)  # before the lock makes ROOT/.lock in it
    with claim_folder(root, "--out"):
        claim_dataset_root(root, folders, overwrite=overwrite)
        yield


def claim_dataset_root(root: str | Path, folders: tuple[str, ...], *, overwrite: bool) -> None:
    """Before rendering: refuse, in one line, a root that is a file, or one whose `folders` already hold files
    (rendering over them would mix two datasets) unless `overwrite`, which deletes those folders first."""
    from ..run_files import RUN_FILES

    check_root(root)
    root = Path(root)
    here = root.resolve()
    # trainA holding trainB/ etc. would mix two datasets in one folder. Only --out and its parent: a project whose
    # own folders are called train/ and test/ may hold a dataset deeper down
    for folder in (here, here.parent):
        if is_dataset_folder(folder):
            raise CycleGANError(
                f"option '--out': {root} is {'' if folder == here else 'inside '}the dataset folder {folder}: the new "
                "dataset's folders would land among its images; choose an --out outside it"
            )
    found = [name for name in RUN_FILES if (here / name).is_file()]
    if found:
        raise CycleGANError(
            f"option '--out': {root} is a training run folder (it holds {found[0]}): choose another --out for "
            "the dataset"
        )
    taken = [root / f for f in folders if (root / f).is_dir() and any((root / f).iterdir())]
    # a broken link too: mkdir through it said only "File exists"
    taken += [root / f for f in folders if os.path.lexists(root / f) and not (root / f).is_dir()]
    if taken and not overwrite and (part := next(filter(None, map(unfinished, taken)), None)):
        raise CycleGANError(f"option '--out': {part} (or choose another --out)")
    if taken and not overwrite:
        # a file where a folder goes was said to "hold files"
        what = (
            "already holds files"
            if taken[0].is_dir()
            else f"is a {'file' if taken[0].exists() else 'broken symbolic link'} where the dataset's folder goes"
        )
        raise CycleGANError(
            f"{taken[0]} {what}: pass --overwrite to replace {', '.join(folders)} in {root}, or choose another --out"
        )
    for path in taken:
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def check_room(root: Path, size: int, images: int) -> None:
    """Refuse, before writing, a dataset the disk under `root` cannot hold: `images` PNGs of `size` px, each at least
    `PNG_BYTES_PER_SIDE` * size bytes (this catches a mistyped --count, not the last MB)."""
    need, free = images * PNG_BYTES_PER_SIDE * size, shutil.disk_usage(root).free
    if need > free:
        raise CycleGANError(
            f"{images} images of {size} px need about {byte_size(need)}, {root} has {byte_size(free)} free: "
            "give a smaller --count or --test-count (or --size), or another --out"
        )


def _whole_png(path: Path, size: int) -> bool:
    """Whether `path` is a PNG of size x size RGB whose chunks all pass their checksums. Read as every image is
    (`io.open_image`): a FIFO at its name hung `Image.open`, and a header declaring a bomb raised Pillow's error
    as a traceback; either is not whole, and rendered again over it."""
    from .io import open_image  # on use: io imports torch, and this module's options must not (`--help`)

    try:
        with open_image(path, formats=("PNG",)) as im:
            if im.size != (size, size) or im.mode != "RGB":
                return False
            im.verify()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):  # missing, no PNG, damaged, a bomb
        return False
    return True


def write_dataset(opts: SyntheticOptions, *, keep: bool = False) -> Path:
    """Write OUT/trainA (summer), trainB (winter), testA, testB as PNGs.

    trainA and trainB are rendered from disjoint scenes (unpaired), or with `paired` from the same scenes
    (trainA/NAME.png and trainB/NAME.png one scene); testA/NAME.png and testB/NAME.png are the same scene in
    both styles (the ground truth of each translation), the same scenes either way.

    `keep`: an image already at its name is kept, not rendered again, when it is a whole PNG of the size: for a
    caller that knows OUT holds a rendering of this same world stopped halfway (each file is written whole).
    """

    root, size, count, test_count, seed = Path(opts.out), opts.size, opts.count, opts.test_count, opts.seed

    def jobs() -> Iterator[tuple[str, Style, int]]:  # one at a time: a list was gigabytes at --count 10**8
        return itertools.chain(
            (("trainA", "summer", i) for i in range(count)),
            (("trainB", "winter", i if opts.paired else count + i) for i in range(count)),
            (
                (split, style, 2 * count + i)
                for i in range(test_count)
                for split, style in (("testA", "summer"), ("testB", "winter"))
            ),
        )

    def path_of(split: str, index: int) -> Path:
        name = f"{index - 2 * count:04d}" if split.startswith("test") else f"{index:05d}"
        return root / split / f"{name}.png"

    try:
        root.mkdir(parents=True, exist_ok=True)
        todo = 2 * (count + test_count)
        if keep:  # a stopped rendering's files hold their room already (one rendered again replaces its own)
            todo -= sum(path_of(split, index).is_file() for split, _, index in jobs())
        check_room(root, size, todo)
        splits = [root / split for split in ("trainA", "trainB", "testA", "testB")]
        for split in splits:
            split.mkdir(exist_ok=True)
        with marked_unfinished(splits):  # a killed rendering's part is named as one, not taken as the dataset
            for split, style, index in progress_bar(
                iterable=jobs(),
                desc="rendering summer/winter scenes",
                total=2 * (count + test_count),
                unit="img",
                enabled=opts.progress,
            ):
                target = path_of(split, index)
                if keep and _whole_png(target, size):
                    continue
                image = Image.fromarray(render(scene_for(seed, index), style, size))
                # whole or not at all: a Ctrl-C or a full disk mid-save left a truncated PNG among the images
                try:
                    write_atomic(target, lambda tmp, im=image: im.save(tmp, format="PNG"))
                except OSError as e:  # named as the file it was to be, not write_atomic's temporary one
                    raise OSError(e.errno, e.strerror, str(target)) from None
    except OSError as e:  # read-only, full, or a file where a folder should be: one line, not a traceback
        raise CycleGANError(f"cannot write the dataset in {root}: {e.filename or root}: {e.strerror or e}") from None
    return root
