"""The options of `cyclegan evaluate`, torch-free so that its `--help` starts at once. `evaluate.runner`
scores what they name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Literal

from ..errors import CycleGANError
from ..files import (
    IMAGE_EXTENSIONS,
    check_names_a_file,
    holds_images,
    no_image_folder,
    no_images,
    overwrite_option,
    walk_files,
)
from ..options import MAX_SEED, Options, opt
from ..shared_options import device_option, domain_folder_option, ema_option, max_pixels_option, progress_option

EvalDirection = Literal["AtoB", "BtoA", "both"]
SPLITS = ("test", "val", "train")  # the splits the standard datasets hold, the one to suggest first
KID_SUBSETS_MAX = 10_000  # 100 times the field's 100: the std of KID's mean is long settled


@dataclass(frozen=True)
class EvalOptions(Options):
    """`cyclegan evaluate`: which checkpoints, on which test split, with which features."""

    checkpoint: tuple[str, ...] = opt(
        help="run folder or checkpoint file; several (e.g. milestones) are scored in one pass; a run folder that "
        "holds best.pt (--eval-every) is scored at its last and its best checkpoint (best.pt alone where its "
        "checkpoint.pt is gone)",
        metavar="RUN_OR_FILE",
        nonempty="run folders or checkpoint files",
    )
    data: str | None = opt(
        None,
        "dataset root holding {split}A and {split}B, or {split} of A|B images side by side (pix2pix's aligned layout)",
        metavar="ROOT",
        default_text="the run's training --data",
        nonempty="a dataset root, or leave --data out for the run's own",
    )
    split: str = opt(
        "test", "the split's folders under ROOT: SA and SB, or S of A|B images", nonempty="a split's name, e.g. test"
    )
    # a run trained on two plain folders (train's --domain-a/-b) is scored on two more, with no ROOT to lay out
    domain_a: str | None = domain_folder_option("A", "test images", "--data ROOT's {split}A")
    domain_b: str | None = domain_folder_option("B", "test images", "--data ROOT's {split}B")
    direction: EvalDirection = opt("both", "AtoB scores G (and F for the cycle), BtoA the reverse, both: each")
    ema: Literal["auto", "on", "off"] = ema_option()
    backbone: Literal["inception", "lite0"] = opt(
        "lite0",
        "feature network: inception (FID; needs its weights file) or lite0 (offline; reported as fd_lite0/kid_lite0)",
    )
    inception_weights: str | None = opt(
        None,
        "pt_inception-2015-12-05-6726825d.pth",
        metavar="FILE",
        default_text="$CYCLEGAN_INCEPTION_WEIGHTS, then the torch hub cache",
        nonempty="the weights file",
    )
    out: str | None = opt(
        None, "write the report as JSON here", metavar="FILE.json", nonempty="a .json file", writes=True
    )
    save_images: str | None = opt(
        None,
        "write the translations as scored, at the evaluation size (DIR/AtoB/*.png; DIR/NN_stepS/AtoB/ with several "
        "checkpoints, NN_step_unknown for a file without a step), and sample grids",
        metavar="DIR",
        nonempty="a folder",
        writes=True,
    )
    size: int | None = opt(
        None,
        "evaluate at N x N px (3 at least: SSIM's window)",
        ge=3,
        default_text="the training size; 256 for a plain generator file",
    )
    batch_size: int = opt(8, "images per forward pass", gt=0)
    limit: int | None = opt(None, "first N readable images per domain (sorted names; one left out is named)", gt=0)
    kid_subset_size: int | None = opt(None, "images per KID subset", gt=1, default_text="min(100, both set sizes)")
    # bounded: each subset is a kernel over subset-size pairs, drawn after all the translating; 10^9 (a slip for
    # --kid-subset-size, or a zero too many) ran for days and held a score per subset
    kid_subsets: int = opt(100, f"KID subsets (at most {KID_SUBSETS_MAX})", gt=0, le=KID_SUBSETS_MAX)
    seed: int = opt(0, "seed of the KID subsets", ge=0, le=MAX_SEED)
    overwrite: bool = overwrite_option()
    max_pixels: int = max_pixels_option()
    device: str = device_option()
    progress: bool = progress_option()

    def __post_init__(self) -> None:
        super().__post_init__()
        check_names_a_file(self.out, option="--out", example="eval.json", suffixes=(".json",))
        # ROOT/. (or ROOT/..) as the split was read as one folder of A|B pairs: every image of the dataset halved
        split = PurePath(self.split)
        if split.is_absolute() or not split.parts or ".." in split.parts:
            raise CycleGANError(
                f"option '--split' {self.split!r} names no folder under --data ROOT: give a split's name (test, "
                "val, train), whose folders ROOT/SA and ROOT/SB (or ROOT/S of A|B images) are read"
            )
        if (self.domain_a is None) != (self.domain_b is None):
            given, other = ("--domain-a", "--domain-b") if self.domain_a is not None else ("--domain-b", "--domain-a")
            raise CycleGANError(
                f"option '{given}' needs {other} too: give both folders of test images (or --data ROOT)"
            )
        if self.domain_a is not None and self.split != "test":  # it names ROOT's folders: none is read
            raise CycleGANError(
                f"option '--split' {self.split} names folders under --data ROOT, which --domain-a/--domain-b replace: "
                "drop --split (the two folders are read as they are)"
            )
        if self.domain_a is not None and self.data is not None:  # which would be scored?
            raise CycleGANError(
                "options '--data' and '--domain-a/--domain-b' each name the test images: give the dataset root "
                f"(its {self.split}A and {self.split}B) or the two folders, not both"
            )
        if self.inception_weights is not None and self.backbone != "inception":  # FID asked for, Lite0 computed
            raise CycleGANError(
                f"option '--inception-weights' is for --backbone inception, not {self.backbone}; add --backbone "
                "inception (FID) or drop it"
            )
        if self.size and self.size * self.size > self.max_pixels:  # every image is resized to it: a decode too
            raise CycleGANError(
                f"option '--size' {self.size} makes each image {self.size}x{self.size} pixels, over --max-pixels "
                f"{self.max_pixels}; give a smaller --size"
            )


def check_folders_there(opts: EvalOptions) -> None:
    """Refuse a --data, --domain-a or --domain-b that is no folder, a --data without the split's folders, and a
    domain folder without images, torch-free: `evaluate --data MISSING` waited 5-15 s for torch's import to be told
    that MISSING/testA did not exist. `evaluate_checkpoints` runs it too, for its Python callers: the command
    says each once, its library call never reached."""
    hints = {
        "--data": f"the dataset root holding {opts.split}A and {opts.split}B, or leave --data out for the run's own",
        "--domain-a": "the folder of domain A's test images",
        "--domain-b": "the folder of domain B's test images",
    }
    for flag, folder in zip(hints, (opts.data, opts.domain_a, opts.domain_b)):
        if folder is not None and not Path(folder).is_dir():
            what = "is a file, not a folder" if Path(folder).exists() else "does not exist"
            raise CycleGANError(f"option '{flag}': {folder} {what} (give {hints[flag]})")
    if opts.domain_a is not None and opts.domain_b is not None:
        folders = {"--domain-a folder": Path(opts.domain_a), "--domain-b folder": Path(opts.domain_b)}
    elif opts.data is not None:
        found = split_folders(Path(opts.data), opts.split)
        if isinstance(found, Path):
            folders = {f"--data {opts.split} folder of A|B images": found}
        else:
            folders = {f"--data {opts.split}{letter} folder": folder for letter, folder in found.items()}
    else:  # the run's own --data, read from its config with torch imported: checked there
        return
    for what, folder in folders.items():
        if not folder.is_dir():
            raise no_image_folder(folder, what)
        if not holds_images(folder):
            raise no_images(folder, what)
    check_two_per_domain(opts)


def too_few_images(folder: Path, n: int, limit: int | None) -> CycleGANError:
    """FD and KID's refusal of a domain of `n` (< 2) usable images, in `folder`, under --limit `limit`."""
    under = f" (--limit {limit})" if limit else ""
    more = "raise --limit or add images" if limit else "add images"  # no --limit given: none to raise
    return CycleGANError(f"{folder} holds {n} usable image{under}: FD and KID need at least 2 per domain; {more}")


def check_two_per_domain(opts: EvalOptions) -> None:
    """Refuse, torch-free, a domain folder of fewer than 2 images (or --limit 1) where the two folders share no
    image name, so the split cannot be one pair scored against its truth (`runner._check_counts`, which says it again
    of the images that can be read). An unpaired split of one image a domain was refused only after torch's import
    and the checkpoints' read: 15 s on a busy 2-core machine. An A|B folder is a pair per file: not refused here."""
    if opts.domain_a is not None and opts.domain_b is not None:
        folders = [Path(opts.domain_a), Path(opts.domain_b)]
    elif opts.data is not None and Path(opts.data).is_dir():
        found = split_folders(Path(opts.data), opts.split)
        folders = [] if isinstance(found, Path) else list(found.values())
    else:  # the run's own --data, read from its config: `evaluate_checkpoints` asks again once it has it
        return
    if len(folders) != 2 or not all(folder.is_dir() for folder in folders):  # named where they are read
        return
    files = [[p for p in walk_files(folder) if _is_image(p)] for folder in folders]
    counts = [min(len(f), opts.limit or len(f)) for f in files]
    fewest = counts.index(min(counts))
    keys = [{pair_key(p, folder) for p in f} for f, folder in zip(files, folders)]
    if counts[fewest] < 2 and not keys[0] & keys[1]:  # no name in both: no pair at all
        raise too_few_images(folders[fewest], counts[fewest], opts.limit)


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def pair_key(path: Path, folder: Path) -> Path:
    """A file's name in a pair: its path under its domain's folder without the extension, as training pairs
    files (`find_pairs`): sub/x.png pairs with sub/x.jpg, not with other/x.png."""
    return path.relative_to(folder).with_suffix("")


def split_folders(root: Path, split: str) -> dict[str, Path] | Path:
    """The split's folders under --data `root`: {"A": ROOT/SA, "B": ROOT/SB}, or ROOT/S of A|B images side by
    side where neither domain's folder exists (the layout `train --model pix2pix` reads). A root without either
    is refused naming the splits it has; a --split that names one domain's folder too."""
    folders = {letter: root / f"{split}{letter}" for letter in "AB"}
    aligned = root / split
    if not any(f.is_dir() for f in folders.values()) and aligned.is_dir():
        _check_not_a_domain(root, split)
        return aligned
    if root.is_dir() and not holds_split(root, split):
        # pix2pix's maps has train and val only: "testA does not exist" hid the split training had scored on
        others = [s for s in SPLITS if s != split and holds_split(root, s)]
        if others:
            # a run with no test split scored training images it set aside: --split train reads every one, those
            # it trained on too, whose scores flatter the model
            flatter = " (the images training learnt from: their scores flatter the model)"
            trained = flatter if others[0] == "train" else ""
            raise CycleGANError(
                f"--data {root} has no {split} split ({split}A and {split}B, or {split} of A|B "
                f"images side by side); it has {' and '.join(others)}: give --split {others[0]}{trained}"
            )
        # a folder of one's own two domains (horses/, zebras/): "testA does not exist" said not what to make
        raise CycleGANError(
            f"--data {root} has no {split} split: evaluate reads {split}A and {split}B under it (or "
            f"{split} of A|B images side by side); put held-out images of each domain there"
        )
    return folders


def holds_split(root: Path, split: str) -> bool:
    """Whether --data `root` holds any of the split's folders: ROOT/SA, ROOT/SB, or ROOT/S of A|B images."""
    return any((root / name).is_dir() for name in (f"{split}A", f"{split}B", split))


def _check_not_a_domain(root: Path, split: str) -> None:
    """Refuse a --split that names one domain's folder (`--split testA` beside testB): it was read as a folder of
    A|B pairs, each testA image halved into a source and its truth, and scored without a word."""
    stem, letter = split[:-1], split[-1:]
    if letter in ("A", "B") and stem and (root / f"{stem}{'B' if letter == 'A' else 'A'}").is_dir():
        raise CycleGANError(
            f"option '--split' {split} names a domain's folder, not a split: give --split {stem} (it reads "
            f"{stem}A and {stem}B)"
        )
