"""The standard unpaired datasets by name: a catalogue, and a download that resumes, verifies and extracts
safely.

Archives come from the reference implementation's server as `BASE/NAME.zip` (a mirror can be given as
`base_url`) and hold `NAME/trainA, trainB, testA, testB`. A download:

1. streams into `ROOT/.NAME.zip.part`, resuming it with an HTTP Range request when a previous attempt
   was interrupted, bounded in bytes (`--max-size-gb`: an archive is no larger than what it expands to)
   and in time (`--max-minutes`);
2. checks the size against what the server announced, an optional SHA-256, and every zip entry's CRC;
3. refuses archives with an entry that would land outside the root (absolute path, `..`, symlink,
   device file), and zip bombs (more than `--max-size-gb` uncompressed, or an entry or the whole
   compressed better than `--max-ratio` to 1), from the zip's directory before writing anything, and
   counts the bytes actually written in case the directory lies;
4. extracts into a temporary folder inside ROOT and renames it, less its lone top folders (`NAME/`, a doubled
   `NAME/NAME/`: `archive.unwrapped`), to `ROOT/NAME` in one step, so `ROOT/NAME` exists only when complete.

One download of NAME into ROOT at a time (a lock, `ROOT/.NAME.lock`); each removes the half-extracted
`ROOT/.NAME.extracting.*` folders that an earlier, killed one left.

Only the standard library speaks HTTP here (urllib), so nothing beyond the core dependencies is needed.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CycleGANError, nearest
from ..files import IMAGE_EXTENSIONS, broken_link, check_not_a_file, check_out_folder, walk_files
from ..options import Options, opt
from ..shared_options import max_minutes_option, progress_option
from .archive import (
    MAX_ENTRIES,
    MAX_RATIO,
    MAX_SIZE_GB,
    ArchiveLimits,
    extract_safely,
    remove_stale_extractions,
    verify_archive,
)
from .fetch import Bounds, address_problem, check_sha256, download_lock, fetch, file_address, shown_address

DEFAULT_BASE_URL = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets"
CHUNK = 1 << 16
SPLITS = ("trainA", "trainB", "testA", "testB")
ALIGNED_SPLITS = ("train", "val", "test")  # pix2pix's A|B images (the reference's facades, maps from a mirror)
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
MAX_NAME = 100  # characters: ROOT/NAME, .NAME.zip.part and .NAME.lock stay far below the file system's NAME_MAX
MAX_MINUTES = 120.0  # the largest standard archive is a few hundred MB


@dataclass(frozen=True)
class DatasetInfo:
    """One catalogue entry. `domains` reads "A <-> B" in the archive's trainA/trainB order where known."""

    name: str
    domains: str
    source: str
    downloadable: bool = True
    note: str = ""


CATALOGUE: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo("horse2zebra", "horses <-> zebras", "ImageNet"),
        DatasetInfo("apple2orange", "apples <-> oranges", "ImageNet"),
        DatasetInfo("summer2winter_yosemite", "Yosemite in summer <-> in winter", "Flickr"),
        DatasetInfo("monet2photo", "Monet paintings <-> landscape photos", "WikiArt, Flickr"),
        DatasetInfo("cezanne2photo", "Cezanne paintings <-> landscape photos", "WikiArt, Flickr"),
        DatasetInfo("ukiyoe2photo", "ukiyo-e prints <-> landscape photos", "WikiArt, Flickr"),
        DatasetInfo("vangogh2photo", "Van Gogh paintings <-> landscape photos", "WikiArt, Flickr"),
        DatasetInfo("iphone2dslr_flower", "iPhone flower photos <-> DSLR (shallow depth of field)", "Flickr"),
        DatasetInfo("maps", "aerial photos <-> Google Maps tiles", "Google Maps"),
        DatasetInfo("facades", "facade photos <-> architectural labels", "CMP Facades"),
        DatasetInfo(
            "cityscapes",
            "street photos <-> semantic labels",
            "Cityscapes",
            downloadable=False,
            note="its licence forbids redistribution: register at https://www.cityscapes-dataset.com, "
            "download gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip, and arrange them as "
            "trainA/trainB/testA/testB",
        ),
    )
}


@dataclass(frozen=True)
class DownloadResult:
    """Where the dataset is and what happened: `downloaded` is False when it was already there."""

    path: Path
    downloaded: bool
    bytes_fetched: int = 0
    resumed_from: int = 0
    files: dict[str, int] = field(default_factory=dict)  # split folder -> files in it


# --- names and addresses ----------------------------------------------------------------------------------


def dataset_url(name: str, base_url: str = DEFAULT_BASE_URL) -> str:
    """`BASE/NAME.zip`, the reference implementation's pattern; only http and https are accepted."""
    if problem := address_problem(base_url):
        raise CycleGANError(f"option '--base-url' {shown_address(base_url)!r}: {problem}")
    return file_address(base_url, f"{name}.zip")


def check_name(name: str, *, mirror: bool) -> DatasetInfo | None:
    """The catalogue entry for `name`. Names outside the catalogue are accepted only from a mirror (and
    only as plain file names of at most MAX_NAME characters, since the name becomes a folder)."""
    if len(name) > MAX_NAME:
        raise CycleGANError(f"dataset name of {len(name)} characters: at most {MAX_NAME} are accepted")
    info = CATALOGUE.get(name)
    if info is not None:
        if not info.downloadable and not mirror:
            raise CycleGANError(f"dataset '{name}' cannot be downloaded from the public server: {info.note}")
        return info
    if not mirror:
        close = nearest(name, CATALOGUE)
        hint = f"did you mean '{close}'? " if close else ""
        raise CycleGANError(f"unknown dataset '{name}'; {hint}see `cyclegan datasets list` (or a --base-url)")
    if not SAFE_NAME.fullmatch(name) or ".." in name:
        raise CycleGANError(f"dataset name {name!r}: expected letters, digits, '_', '-' or '.' only")
    return None


def count_files(folder: Path) -> dict[str, int]:
    """Images in each of trainA, trainB, testA, testB, or pix2pix's train, val, test, that exist: files of an
    extension training reads (`files.IMAGE_EXTENSIONS`), hidden ones and those in hidden folders left out, as
    training leaves them out. Every file was counted: an archive's readme or list of names passed for an image.
    Walked as training walks them (`files.walk_files`): a symlinked sub-folder's images were not counted, yet
    trained on."""
    splits = [s for s in (*SPLITS, *ALIGNED_SPLITS) if (folder / s).is_dir()]
    return {s: sum(1 for p in walk_files(folder / s) if _an_image(p)) for s in splits}


def _an_image(path: Path) -> bool:
    return not path.name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS


# --- the whole download -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadOptions(Options):
    """`cyclegan datasets download`: one standard dataset by name, into ROOT/NAME."""

    name: str = opt(help="a name from `cyclegan datasets list`", metavar="NAME", positional=True)
    root: str = opt(
        help="where NAME/ goes (created if missing)", metavar="DIR", nonempty="a folder for NAME/", writes=True
    )
    base_url: str | None = opt(None, "a mirror serving URL/NAME.zip", metavar="URL", default_text="the public server")
    sha256: str | None = opt(None, "expected SHA-256 of the zip file", metavar="HEX")
    max_size_gb: float = opt(MAX_SIZE_GB, "refuse an archive that expands to more than this (GB)", gt=0, le=1e6)
    max_ratio: float = opt(
        MAX_RATIO,
        "refuse an archive, or an entry of over 1 MiB, that expands more than this many times its "
        "compressed size (zip bombs)",
        ge=1,
        le=1e6,
    )
    max_entries: int = opt(
        MAX_ENTRIES, "refuse an archive of more entries than this (each is a file written)", gt=0, le=10**9
    )
    max_minutes: float = max_minutes_option(MAX_MINUTES)
    progress: bool = progress_option()

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "sha256", check_sha256(self.sha256))  # frozen: normalised to lower case
        if self.base_url is not None:
            dataset_url(self.name, self.base_url)  # checks the scheme


def download(opts: DownloadOptions, *, timeout: float = 60.0) -> DownloadResult:
    """Download dataset `opts.name` into `opts.root/name` (see the module docstring for each step).

    Already present (a non-empty `root/name`): nothing is fetched. Interrupted: run again to resume.
    Every failure is a one-line CycleGANError.
    """
    name, root, base_url, sha256, progress = opts.name, opts.root, opts.base_url, opts.sha256, opts.progress
    limits = ArchiveLimits(
        max_bytes=int(opts.max_size_gb * 1e9), max_ratio=opts.max_ratio, max_entries=opts.max_entries
    )
    bounds = Bounds(  # an archive is no larger than what it expands to, plus its headers and directory
        max_bytes=int(limits.max_bytes * 1.05) + (1 << 20),
        seconds=opts.max_minutes * 60,
        bytes_from="option '--max-size-gb'",
        seconds_from="option '--max-minutes'",
    )
    mirror = base_url is not None
    check_name(name, mirror=mirror)
    url = dataset_url(name, base_url or DEFAULT_BASE_URL)
    check_out_folder(root, holds=f"{name}/ is downloaded into", option="--root")  # `--root x.png` made that folder
    root = Path(root)
    target = root / name
    if target.is_dir() and any(target.iterdir()):
        held = sorted(p.name for p in target.iterdir())
        if all(n.startswith(".") for n in held):  # a folder a file manager opened (.DS_Store): no dataset in it
            raise CycleGANError(
                f"{target} holds only hidden files ({', '.join(held[:3])}{', ...' if len(held) > 3 else ''}), no "
                f"dataset: remove it and run again to download {name}"
            )
        return DownloadResult(target, downloaded=False, files=count_files(target))
    if target.is_symlink():  # the extracted folder is renamed into place, which cannot go through a link
        raise CycleGANError(
            f"{target} is a symbolic link (to {os.readlink(target)}) with no dataset there; a download cannot go "
            "through a link: remove it and run again, or download with --root on the other disk and link to that"
        )
    if target.exists() and not target.is_dir():
        raise CycleGANError(f"{target} exists and is not a folder; move it away or choose another --root")
    if target.is_dir():
        target.rmdir()  # empty: a leftover, not data
    made = [p for p in (root, *root.parents) if not p.exists()]  # the folders this call creates, deepest first
    # a file, or a folder under one: mkdir said only "cannot create it (File exists)" or "(Not a directory)"
    check_not_a_file(root, option="--root")
    if broken := broken_link(root, "--root"):  # mkdir said "File exists"
        raise broken
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CycleGANError(f"option '--root' {root}: cannot create it ({e.strerror})") from None
    try:
        return _download_into(
            root, name, url=url, sha256=sha256, limits=limits, bounds=bounds, progress=progress, timeout=timeout
        )
    except CycleGANError:
        if made:  # a --root this call made and nothing reached (its empty .part went under the lock): gone again
            with contextlib.suppress(OSError):
                for folder in made:
                    folder.rmdir()  # only when empty: stops at the first that is not
        raise


def part_path(root: str | Path, name: str) -> Path:
    """Where the download of dataset `name` into `root` streams to, kept to resume when it stops."""
    return Path(root) / f".{name}.zip.part"


def _download_into(
    root: Path, name: str, *, url: str, sha256, limits: ArchiveLimits, bounds: Bounds, progress: bool, timeout: float
) -> DownloadResult:
    """`download`'s work once `root` exists: fetch (resuming), verify, extract."""
    with download_lock(root, name, elsewhere="give --root a folder you can write in"):
        remove_stale_extractions(root, name)
        part = part_path(root, name)
        try:
            total, resumed_from = fetch(url, part, progress=progress, timeout=timeout, bounds=bounds)
        except CycleGANError:
            # Nothing arrived: no partial file to resume from. Removed while the lock is held, so that it is
            # never the .part of a download that starts the moment this one lets go.
            if part.exists() and part.stat().st_size == 0:
                part.unlink()
            raise
        verify_archive(part, url=shown_address(url), total=total, sha256=sha256, limits=limits)
        size = part.stat().st_size
        try:
            path = extract_safely(
                part, root, name, source=shown_address(url), limits=limits, keep=(*SPLITS, *ALIGNED_SPLITS)
            )
        except CycleGANError as e:
            if str(e).startswith("refusing"):  # the archive itself is bad: fetching it again cannot help
                part.unlink(missing_ok=True)
            raise
        part.unlink()
    return DownloadResult(
        path, downloaded=True, bytes_fetched=size - resumed_from, resumed_from=resumed_from, files=count_files(path)
    )
