"""The standard unpaired datasets by name: a catalogue, and a download that resumes, verifies and extracts
safely.

Archives come from the reference implementation's server as `BASE/NAME.zip` (a mirror can be given as
`base_url`) and hold `NAME/trainA, trainB, testA, testB`. A download:

1. streams into `ROOT/.NAME.zip.part`, resuming it with an HTTP Range request when a previous attempt
   was interrupted;
2. checks the size against what the server announced, an optional SHA-256, and every zip entry's CRC;
3. refuses archives with an entry that would land outside the root (absolute path, `..`, symlink,
   device file), and zip bombs (more than `--max-size-gb` uncompressed, or an entry or the whole
   compressed better than `--max-ratio` to 1), from the zip's directory before writing anything, and
   counts the bytes actually written in case the directory lies;
4. extracts into a temporary folder inside ROOT and renames it to `ROOT/NAME` in one step, so `ROOT/NAME`
   exists only when complete.

One download of NAME into ROOT at a time (a lock, `ROOT/.NAME.lock`); each removes the half-extracted
`ROOT/.NAME.extracting.*` folders that an earlier, killed one left.

Only the standard library speaks HTTP here (urllib), so nothing beyond the core dependencies is needed.
"""

from __future__ import annotations

import difflib
import hashlib
import http.client
import os
import re
import shutil
import stat
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ..config import progress_option
from ..errors import CycleGANError
from ..files import FolderLock
from ..options import Options, opt

DEFAULT_BASE_URL = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets"
CHUNK = 1 << 16
SPLITS = ("trainA", "trainB", "testA", "testB")
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
MAX_SIZE_GB = 20.0  # the largest standard set (cityscapes) extracts to about 10 GB
MAX_RATIO = 100.0  # JPEG and PNG images barely compress (about 1:1); a bomb compresses 1000:1 and more
RATIO_MIN_BYTES = 1 << 20  # an entry (or archive) smaller than this cannot be a bomb, whatever its ratio


@dataclass(frozen=True)
class ArchiveLimits:
    """What an archive may expand to: `max_bytes` uncompressed in all, and at most `max_ratio` times its
    compressed size, per entry and overall (zip bombs break one or the other)."""

    max_bytes: int = int(MAX_SIZE_GB * 1e9)
    max_ratio: float = MAX_RATIO


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
        ),  # fmt: skip
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
    scheme = urllib.parse.urlsplit(base_url).scheme
    if scheme not in ("http", "https"):
        raise CycleGANError(f"option '--base-url' {base_url!r}: expected an http:// or https:// address")
    return f"{base_url.rstrip('/')}/{urllib.parse.quote(name)}.zip"


def check_name(name: str, *, mirror: bool) -> DatasetInfo | None:
    """The catalogue entry for `name`. Names outside the catalogue are accepted only from a mirror (and
    only as plain file names, since the name becomes a folder)."""
    info = CATALOGUE.get(name)
    if info is not None:
        if not info.downloadable and not mirror:
            raise CycleGANError(f"dataset '{name}' cannot be downloaded from the public server: {info.note}")
        return info
    if not mirror:
        close = difflib.get_close_matches(name, CATALOGUE, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise CycleGANError(f"unknown dataset '{name}'; {hint}see `cyclegan datasets list` (or a --base-url)")
    if not SAFE_NAME.fullmatch(name) or ".." in name:
        raise CycleGANError(f"dataset name {name!r}: expected letters, digits, '_', '-' or '.' only")
    return None


def check_sha256(sha256: str | None) -> str | None:
    if sha256 is None:
        return None
    if not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise CycleGANError(f"option '--sha256' {sha256!r}: expected 64 hexadecimal digits")
    return sha256.lower()


# --- fetching -----------------------------------------------------------------------------------------


def _content_range(header: str | None) -> tuple[int | None, int | None]:
    """`bytes START-END/TOTAL` (or `bytes */TOTAL`) -> (START, TOTAL); None where absent or `*`."""
    m = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", header or "")
    if not m:
        return None, None
    start = int(m.group(1)) if m.group(1) else None
    return start, int(m.group(2)) if m.group(2) != "*" else None


def _open(url: str, offset: int, *, timeout: float):
    from .. import __version__

    headers = {"User-Agent": f"cyclegan/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def fetch(url: str, part: Path, *, progress: bool = True, timeout: float = 60.0) -> tuple[int | None, int]:
    """Download `url` into `part`, continuing from its current size when the server honours Range.

    Returns (the full size the server announced or None, the offset the transfer resumed from). An
    interrupted transfer leaves `part` in place and raises a CycleGANError saying to run again.
    """
    from tqdm import tqdm

    offset = part.stat().st_size if part.exists() else 0
    try:
        resp = _open(url, offset, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:  # nothing left to send: complete already, or a different file
            _, total = _content_range(e.headers.get("Content-Range"))
            if total == offset:
                return total, offset
            part.unlink()
            return fetch(url, part, progress=progress, timeout=timeout)
        hint = " (no such file there: check the dataset name or --base-url)" if e.code == 404 else ""
        raise CycleGANError(f"download of {url} failed: HTTP {e.code} {e.reason}{hint}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise CycleGANError(
            f"cannot reach {url}: {reason} (check the network, or give a mirror's --base-url)"
        ) from None

    with resp:
        start, total = _content_range(resp.headers.get("Content-Range"))
        if offset and resp.status == 206 and start == offset:
            mode = "ab"
        else:  # the server sent the whole file (it ignored Range, or there was nothing to resume)
            offset, mode = 0, "wb"
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        done = offset
        name = part.name.removeprefix(".").removesuffix(".part")
        bar = tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024, desc=name,
                   disable=not progress, dynamic_ncols=True)  # fmt: skip
        try:
            with part.open(mode) as f, bar:
                while chunk := resp.read(CHUNK):
                    f.write(chunk)
                    done += len(chunk)
                    bar.update(len(chunk))
            if total is not None and done < total:  # read(n) returns b"" when the server hangs up early
                raise http.client.IncompleteRead(b"", total - done)
        except (http.client.IncompleteRead, OSError) as e:  # OSError: connection reset, timeout, disk full
            of = f" of {total}" if total else ""
            reason = getattr(e, "strerror", None) or type(e).__name__
            raise CycleGANError(
                f"download of {url} stopped after {done}{of} bytes ({reason}); run the same command again to resume"
            ) from None
    return total, offset


# --- verifying ----------------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def verify_archive(
    part: Path, *, url: str, total: int | None, sha256: str | None, limits: ArchiveLimits = ArchiveLimits()
) -> None:
    """Size as announced, SHA-256 when given, sizes within `limits` (from the directory, before any entry
    is decompressed), and a readable zip whose entries all pass their CRC. A file that fails is deleted
    (resuming it could not help), except a short one, which can resume."""
    size = part.stat().st_size
    if total is not None and size < total:
        raise CycleGANError(f"download of {url} is incomplete ({size} of {total} bytes); run again to resume")
    if total is not None and size > total:
        part.unlink()
        raise CycleGANError(f"download of {url} is {size} bytes, the server announced {total}; deleted it, run again")
    if sha256 is not None and (got := file_sha256(part)) != sha256:
        part.unlink()
        raise CycleGANError(
            f"SHA-256 of {url} is {got}, expected {sha256} (option '--sha256'); the download was deleted"
        )
    try:
        with zipfile.ZipFile(part) as zf:
            try:
                check_limits(zf.infolist(), limits, source=url)
            except CycleGANError:
                part.unlink()
                raise
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, zlib.error) as e:
        part.unlink()
        raise CycleGANError(f"{url} is not a readable zip archive ({e}); the download was deleted") from None
    if bad is not None:
        part.unlink()
        raise CycleGANError(f"{url}: entry '{bad}' fails its CRC check (corrupt archive); the download was deleted")


# --- extracting -------------------------------------------------------------------------------------------


def unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    """Why an entry may not be extracted (None when it is a plain file or folder inside the root)."""
    name = info.filename.replace("\\", "/")  # archives made on Windows may use either separator
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "has an absolute path"
    if ".." in name.split("/"):
        return "climbs out of the root with '..'"
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        return "is a symbolic link"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "is a device, pipe or socket"
    return None


def check_limits(members: list[zipfile.ZipInfo], limits: ArchiveLimits, *, source: str) -> None:
    """Refuse a zip bomb from the archive's directory, before anything is decompressed: one line naming the
    entry (or the total) and the limit it breaks."""
    gb = 1e9
    total = sum(i.file_size for i in members)
    packed = sum(i.compress_size for i in members)
    if total > limits.max_bytes:
        raise CycleGANError(
            f"refusing to extract {source}: it expands to {total / gb:.3g} GB, more than the {limits.max_bytes / gb:g}"
            " GB allowed (option '--max-size-gb'); nothing was extracted"
        )
    for info in members:
        if info.file_size > RATIO_MIN_BYTES and info.file_size > limits.max_ratio * info.compress_size:
            ratio = info.file_size / max(info.compress_size, 1)
            raise CycleGANError(
                f"refusing to extract {source}: entry '{info.filename}' expands {ratio:.0f} times ({info.compress_size}"
                f" -> {info.file_size} bytes), more than the {limits.max_ratio:g} allowed (option '--max-ratio'): "
                "a zip bomb? nothing was extracted"
            )
    if total > RATIO_MIN_BYTES and total > limits.max_ratio * packed:
        raise CycleGANError(
            f"refusing to extract {source}: it expands {total / max(packed, 1):.0f} times ({packed} -> {total} "
            f"bytes), more than the {limits.max_ratio:g} allowed (option '--max-ratio'): a zip bomb? nothing was "
            "extracted"
        )


def _copy_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, *, budget: int, source: str) -> int:
    """Write entry `info` to `dest` (a new file), counting the bytes as they come: more than the directory
    declared for it, or than `budget` (what the limits leave), is refused. Returns the bytes written."""
    written = 0
    try:
        with zf.open(info) as src, dest.open("xb") as out:
            while chunk := src.read(CHUNK):
                written += len(chunk)
                if written > info.file_size or written > budget:
                    raise CycleGANError(
                        f"refusing to extract {source}: entry '{info.filename}' holds more than the "
                        f"{info.file_size} bytes its directory declares; nothing was extracted"
                    )
                out.write(chunk)
    except FileExistsError:
        raise CycleGANError(f"refusing to extract {source}: entry '{info.filename}' appears twice") from None
    except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as e:
        raise CycleGANError(
            f"refusing to extract {source}: entry '{info.filename}' cannot be decompressed ({e}); nothing was extracted"
        ) from None
    return written


def remove_stale_extractions(root: Path, name: str) -> list[Path]:
    """Delete the `ROOT/.NAME.extracting.*` folders an interrupted extraction of NAME left (call it holding
    the download's lock: a live extraction's folder looks the same); returns them."""
    stale = [p for p in root.glob(f".{name}.extracting.*") if p.is_dir() and not p.is_symlink()]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return stale


def _parts(info: zipfile.ZipInfo) -> list[str]:
    return [p for p in info.filename.replace("\\", "/").split("/") if p not in ("", ".")]


def extract_safely(
    archive: Path, root: Path, name: str, *, source: str, limits: ArchiveLimits = ArchiveLimits()
) -> Path:
    """Extract `archive` to `root/name` atomically; refuse it whole, writing nothing, if any entry is
    unsafe or the archive breaks `limits` (checked from its directory first, then on the bytes written).
    An archive holding a single top folder (the reference's `NAME/...`) has that folder renamed to
    `root/name`; otherwise the archive's contents become `root/name`."""
    target = root / name
    with zipfile.ZipFile(archive) as zf:
        members = [i for i in zf.infolist() if _parts(i) and _parts(i)[0] != "__MACOSX"]  # Finder's extras
        for info in members:
            if (reason := unsafe_reason(info)) is not None:
                raise CycleGANError(
                    f"refusing to extract {source}: entry '{info.filename}' {reason}; nothing was extracted"
                )
        check_limits(zf.infolist(), limits, source=source)
        needed = sum(i.file_size for i in members)
        free = shutil.disk_usage(root).free
        if needed > free:
            mib = 2**20
            raise CycleGANError(
                f"{source} needs {needed / mib:.0f} MiB to extract, {root} has {free / mib:.0f} MiB free"
            )
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.extracting.", dir=root))
        try:
            real_tmp = tmp.resolve()
            budget = min(limits.max_bytes, needed)  # the directory's total: more than it means it lied
            for info in members:
                dest = tmp.joinpath(*_parts(info))
                if not dest.resolve().is_relative_to(real_tmp):  # belt and braces after unsafe_reason
                    raise CycleGANError(f"refusing to extract {source}: entry '{info.filename}' leaves the root")
                if info.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                budget -= _copy_entry(zf, info, dest, budget=budget, source=source)
            tops = {_parts(i)[0] for i in members}
            single = len(tops) == 1 and (tmp / next(iter(tops))).is_dir()
            src_dir = tmp / next(iter(tops)) if single else tmp
            if target.exists():
                raise CycleGANError(f"{target} appeared while extracting; remove it and run again")
            os.replace(src_dir, target)  # one rename: ROOT/NAME is either absent or complete
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
    return target


def count_files(folder: Path) -> dict[str, int]:
    """Files in each of trainA, trainB, testA, testB that exist (hidden files left out)."""
    splits = [s for s in SPLITS if (folder / s).is_dir()]
    return {s: sum(1 for p in (folder / s).rglob("*") if p.is_file() and not p.name.startswith(".")) for s in splits}


# --- the whole download -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadOptions(Options):
    """`cyclegan datasets download`: one standard dataset by name, into ROOT/NAME."""

    name: str = opt(help="a name from `cyclegan datasets list`", metavar="NAME", positional=True)
    root: str = opt(help="where NAME/ goes (created if missing)", metavar="DIR")
    base_url: str | None = opt(None, "a mirror serving URL/NAME.zip", metavar="URL", default_text="the public server")
    sha256: str | None = opt(None, "expected SHA-256 of the zip file", metavar="HEX")
    max_size_gb: float = opt(MAX_SIZE_GB, "refuse an archive that expands to more than this (GB)", gt=0, le=1e6)
    max_ratio: float = opt(
        MAX_RATIO, "refuse an archive, or an entry of over 1 MiB, that expands more than this many times its "
        "compressed size (zip bombs)", ge=1, le=1e6,
    )  # fmt: skip
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
    limits = ArchiveLimits(max_bytes=int(opts.max_size_gb * 1e9), max_ratio=opts.max_ratio)
    mirror = base_url is not None
    check_name(name, mirror=mirror)
    url = dataset_url(name, base_url or DEFAULT_BASE_URL)
    root = Path(root)
    target = root / name
    if target.is_dir() and any(target.iterdir()):
        return DownloadResult(target, downloaded=False, files=count_files(target))
    if target.exists() and not target.is_dir():
        raise CycleGANError(f"{target} exists and is not a folder; move it away or choose another --root")
    if target.is_dir():
        target.rmdir()  # empty: a leftover, not data
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CycleGANError(f"option '--root' {root}: cannot create it ({e.strerror})") from None
    lock = FolderLock(root, f".{name}.lock")
    if not lock.acquire():  # two downloads would append to one .part file
        pid = f"PID {lock.holder}" if lock.holder else "PID unknown"
        raise CycleGANError(f"another download of {name} into {root} is running ({pid}); wait for it to end")
    try:
        remove_stale_extractions(root, name)
        part = root / f".{name}.zip.part"
        total, resumed_from = fetch(url, part, progress=progress, timeout=timeout)
        verify_archive(part, url=url, total=total, sha256=sha256, limits=limits)
        size = part.stat().st_size
        try:
            path = extract_safely(part, root, name, source=url, limits=limits)
        except CycleGANError as e:
            if str(e).startswith("refusing"):  # the archive itself is bad: fetching it again cannot help
                part.unlink(missing_ok=True)
            raise
        part.unlink()
    finally:
        lock.release()
    return DownloadResult(path, downloaded=True, bytes_fetched=size - resumed_from, resumed_from=resumed_from,
                          files=count_files(path))  # fmt: skip
