"""Zip archives checked and extracted safely: the size as announced, an optional SHA-256, every entry's CRC;
no entry outside the root (absolute paths, `..`, links, devices); no zip bombs (limits read from the
directory before anything is decompressed, and the bytes counted as they are written); extraction into a
temporary folder renamed into place in one step."""

from __future__ import annotations

import os
import re
import shutil
import stat
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from ..errors import CycleGANError, byte_size
from .fetch import CHUNK, file_sha256

MAX_SIZE_GB = 20.0  # the largest standard set (cityscapes) extracts to about 10 GB
MAX_RATIO = 100.0  # JPEG and PNG images barely compress (about 1:1); a bomb compresses 1000:1 and more
RATIO_MIN_BYTES = 1 << 20  # an entry (or archive) smaller than this cannot be a bomb, whatever its ratio
# the standard sets hold under 20,000 files each; every entry is a file (an inode) to create, and zipfile reads
# the whole directory into memory first (ten million entries: gigabytes before anything is checked)
MAX_ENTRIES = 500_000

# the zip format's end records (APPNOTE 4.3.14-4.3.16), read with struct: zipfile reads them only with the whole
# directory, or with a private function
_END = struct.Struct("<4s4H2LH")  # the end record: 22 bytes, then a comment of at most 65535
_END64_LOCATOR = struct.Struct("<4sLQL")  # zip64's locator, just before the end record
_END64 = struct.Struct("<4sQ2H2L4Q")  # zip64's end record, just before its locator


@dataclass(frozen=True)
class ArchiveLimits:
    """What an archive may expand to: `max_bytes` uncompressed in all, at most `max_ratio` times its
    compressed size, per entry and overall (zip bombs break one or the other), and `max_entries` entries."""

    max_bytes: int = int(MAX_SIZE_GB * 1e9)
    max_ratio: float = MAX_RATIO
    max_entries: int = MAX_ENTRIES


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
    check_entry_count(part, announced_entries(part), limits, source=url)  # before zipfile reads the directory
    try:
        with zipfile.ZipFile(part) as zf:
            check_entry_count(part, len(zf.infolist()), limits, source=url)  # an end record that lied
            try:
                check_limits(zf.infolist(), limits, source=url)
                check_not_encrypted(zf.infolist(), source=url)
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


def announced_entries(path: Path) -> int | None:
    """The entries `path`'s zip end record announces (zip64's too), read without its directory; None where
    there is no end record, or one zipfile refuses (a zip64 one spanning disks): zipfile says so next."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - (_END64.size + _END64_LOCATOR.size + _END.size + 0xFFFF)))
            tail = f.read()
    except OSError:
        return None
    return _entries_in_end_record(tail)


def _entries_in_end_record(tail: bytes) -> int | None:
    """The entry count a zip's last bytes (`tail`: its end record, the comment after it, the zip64 records before it)
    announce, as zipfile reads them: the last end record that fits in its place, the zip64 count where its records lie
    just before it (the 16-bit count then says 0xFFFF); None where there is none, or where zip64's locator names
    another disk (zipfile refuses an archive spanning disks)."""
    # a whole record, its comment within the 65535 bytes a comment may hold (an end index under 0 counts from the end)
    last = len(tail) - _END.size
    at = tail.rfind(b"PK\x05\x06", max(0, last - 0xFFFF), last + 4) if last >= 0 else -1
    if at < 0:
        return None
    entries = _END.unpack_from(tail, at)[4]
    locator = at - _END64_LOCATOR.size
    if locator < 0 or tail[locator : locator + 4] != b"PK\x06\x07":
        return entries
    _, disk, _, disks = _END64_LOCATOR.unpack_from(tail, locator)
    if disk != 0 or disks > 1:
        return None
    record = locator - _END64.size
    if record < 0 or tail[record : record + 4] != b"PK\x06\x06":
        return entries  # a locator without its record: zipfile reads the 16-bit count too
    return _END64.unpack_from(tail, record)[7]


def check_entry_count(path: Path, count: int | None, limits: ArchiveLimits, *, source: str) -> None:
    """Refuse an archive of more than `limits.max_entries` entries in one line; the download is kept (the
    archive is not harmful, only more files than a dataset holds), for the user to extract by hand."""
    if count is not None and count > limits.max_entries:
        raise CycleGANError(
            f"refusing to extract {source}: it holds {count} entries, more than the {limits.max_entries} allowed "
            f"(option '--max-entries'); kept as {path}: extract it yourself if you trust it (unzip {path} -d "
            f"{path.parent}), or raise --max-entries"
        )


def check_not_encrypted(members: list[zipfile.ZipInfo], *, source: str) -> None:
    """Refuse a password-protected entry in one line (zipfile's RuntimeError from `testzip` was a traceback):
    no dataset needs a password, and none can be given."""
    for info in members:
        if info.flag_bits & 0x1:
            raise CycleGANError(
                f"refusing to extract {source}: entry '{info.filename}' is encrypted (a password-protected archive); "
                "the download was deleted"
            )


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


def unwrapped(folder: Path, keep: Collection[str] = ()) -> Path:
    """`folder` less its chain of lone sub-folders: the reference's `NAME/`, and the doubled `NAME/NAME/` of an
    archive zipped from outside its folder, down to the first folder holding a file, more than one entry (hidden
    files aside: a `.DS_Store`) or a folder named in `keep` (a dataset's `trainA`, kept as it is)."""
    while len(entries := [p for p in folder.iterdir() if not p.name.startswith(".")]) == 1:
        if not entries[0].is_dir() or entries[0].name in keep:
            break
        folder = entries[0]
    return folder


def extract_safely(
    archive: Path,
    root: Path,
    name: str,
    *,
    source: str,
    limits: ArchiveLimits = ArchiveLimits(),
    keep: Collection[str] = (),
) -> Path:
    """Extract `archive` to `root/name` atomically; refuse it whole, writing nothing, if any entry is
    unsafe or the archive breaks `limits` (checked from its directory first, then on the bytes written).
    What the archive holds inside its lone top folders (`unwrapped`: the reference's `NAME/...`, a doubled
    `NAME/NAME/...`; never a folder named in `keep`) becomes `root/name`."""
    target = root / name
    with zipfile.ZipFile(archive) as zf:
        members = [i for i in zf.infolist() if _parts(i) and _parts(i)[0] != "__MACOSX"]  # Finder's extras
        for info in members:
            if (reason := unsafe_reason(info)) is not None:
                raise CycleGANError(
                    f"refusing to extract {source}: entry '{info.filename}' {reason}; nothing was extracted"
                )
        if not any(not i.is_dir() for i in members):  # a folder of nothing is no dataset: not extracted, not kept
            raise CycleGANError(f"refusing to extract {source}: the archive holds no files; nothing was extracted")
        check_limits(zf.infolist(), limits, source=source)
        needed = sum(i.file_size for i in members)
        free = shutil.disk_usage(root).free
        if needed > free:
            raise CycleGANError(f"{source} needs {byte_size(needed)} to extract, {root} has {byte_size(free)} free")
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.extracting.", dir=root))
        try:
            real_tmp = tmp.resolve()
            budget = min(limits.max_bytes, needed)  # the directory's total: more than it means it lied
            for info in members:
                dest = tmp.joinpath(*_parts(info))
                if not dest.resolve().is_relative_to(real_tmp):  # belt and braces after unsafe_reason
                    raise CycleGANError(f"refusing to extract {source}: entry '{info.filename}' leaves the root")
                try:
                    if info.is_dir():
                        dest.mkdir(parents=True, exist_ok=True)
                        continue
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    budget -= _copy_entry(zf, info, dest, budget=budget, source=source)
                except (FileExistsError, NotADirectoryError):  # an earlier entry made a file where it needs a folder
                    raise CycleGANError(
                        f"refusing to extract {source}: entry '{info.filename}' needs a folder where another entry is "
                        "a file; nothing was extracted"
                    ) from None
                except OSError as e:  # this file system's limits: a name too long, a full disk, no permission
                    raise CycleGANError(
                        f"cannot extract {source} into {root}: entry '{info.filename}': {e.strerror}; nothing was "
                        "extracted, the download is kept for the next run"
                    ) from None
            src_dir = unwrapped(tmp, keep)
            if target.exists():
                raise CycleGANError(f"{target} appeared while extracting; remove it and run again")
            os.replace(src_dir, target)  # one rename: ROOT/NAME is either absent or complete
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
    return target
