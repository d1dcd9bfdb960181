"""Writing files safely: atomic replacement, unique output names, and the checks that no command overwrites
an existing file unless asked, nor ever writes onto or into its inputs. Used by every command that writes."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import stat
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .errors import CycleGANError, counted, escape
from .options import opt
from .progress import print_warning
from .run_files import BEST_NAME, CHECKPOINT_NAME, CONFIG_NAME, LOG_NAME, is_run_folder

# What `data.io.read_image` decodes (a GIF: its first frame; `translate` takes a longer one as a clip), as
# refusals name it.
IMAGE_FORMATS = "JPEG, PNG, BMP, GIF, WebP or TIFF"
# The same as Pillow names its openers: the only ones tried, whatever a file's extension says (JPEG's opens MPO,
# a JPEG of several pictures, too). Pillow knows some forty formats and hands an EPS file to Ghostscript to render:
# a `.png` that is really an EPS, PCX or ICO is refused, not decoded.
PILLOW_FORMATS = ("JPEG", "PNG", "BMP", "GIF", "WEBP", "TIFF")
# .jfif and .jpe are JPEG files too (a browser's "Save image as"); HEIC and AVIF photos are not read (io.unread_format)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".jfif", ".jpe", ".png", ".bmp", ".webp", ".tif", ".tiff")
# the clip containers read and written (`clipio`), by extension: here, torch-free, for `check_out_folder`
VIDEO_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}
# archives by name: a mirror's zip of the zip is named, and an output folder so named refused (`check_out_folder`)
ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".7z", ".rar")


def write_atomic(path: str | Path, write: Callable[[str], None], *, replace: bool = True) -> Path:
    """Call `write(tmp)` on a temporary file beside `path`, flush it to disk, then make it `path` in one step,
    and flush the folder too (`sync_folder`), so that a power cut after the return keeps the new file.

    A crash, kill or Ctrl-C mid-write leaves the previous file intact (or none), never a half-written one;
    the temporary file is removed on any error. `path` itself is replaced, never written through: a symbolic
    link there is replaced by the file, its target left alone. `replace` False: the file is published only
    if nothing is at `path` yet (a hard link, which fails if the name is taken, so two writers never replace
    each other's file); FileExistsError otherwise.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{temporary_stem(path.name)}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:  # the data must be on disk before the rename makes it the file
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private (0600): give it a new file's usual mode
        if replace:
            os.replace(tmp, path)
        else:
            _publish_new(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sync_folder(path.parent)
    return path


def sync_folder(folder: str | Path) -> None:
    """Flush a folder's entries to disk: a rename is a change of the folder, which a power cut after it could
    undo (the previous file back, or none) until the folder itself is synced. Where the platform cannot open a
    folder (Windows) or sync one (some network and FUSE file systems), nothing: the rename stands as it is."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # EINVAL: a file system that does not sync folders
        pass
    finally:
        os.close(fd)


NAME_MAX = 255  # bytes in a file's name, on the file systems in use (ext4, XFS, Btrfs, APFS, NTFS)
TEMPORARY_EXTRA = 14  # what write_atomic's temporary adds to its file's name: `.NAME.XXXXXXXX.tmp`


def temporary_stem(name: str) -> str:
    """The part of a file's name its `write_atomic` temporary carries: the whole name, or as much of its start as
    keeps the temporary's name within `NAME_MAX` bytes (an output named with 242 bytes or more, which the file
    system takes, could not be written: "File name too long")."""
    while len(os.fsencode(name)) > NAME_MAX - TEMPORARY_EXTRA:
        name = name[:-1]
    return name


def _publish_new(tmp: str, path: Path) -> None:
    """Give the finished file `tmp` the name `path` only if no file has it (FileExistsError otherwise)."""
    try:
        os.link(tmp, path)  # atomic, and refuses a taken name (a symlink included)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: claim the name exclusively, then fill it in one step
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        os.replace(tmp, path)
    else:
        os.unlink(tmp)


_UMASK_SET = threading.Lock()


def _umask() -> int:
    """The process's umask, read without setting it where the system tells it (Linux: /proc/self/status).
    `os.umask` can only read it by setting it: for that moment a folder another thread made (the web page's
    requests, a loader thread) was world-writable (0777)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    with _UMASK_SET:  # elsewhere: at least the writers here do not race each other
        mask = os.umask(0o077)  # the meanwhile mode errs private, not open
        os.umask(mask)
    return mask


def overwrite_option() -> Any:
    """The `--overwrite` field of every command that writes files (one definition)."""
    return opt(False, "replace outputs that already exist (inputs are never replaced, even with this flag)")


def inside(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or below it (both resolved by the caller)."""
    return path == folder or folder in path.parents


def not_there(items: Iterable[str]) -> list[str]:
    """The command-line inputs among `items` that name nothing (no file, folder or link, and no glob pattern), each
    as `translate` and `compare` name it (`ITEM: no such file or folder`): said before torch's import."""
    return [f"{item}: no such file or folder" for item in items if not (os.path.lexists(item) or glob.has_magic(item))]


def check_flags_there(flagged: Iterable[tuple[str, Iterable[str]]]) -> None:
    """Refuse, torch-free, the first input that names nothing, with its flag (`option '--content': x.png: no such
    file or folder`): `compare` and `stylize` take the same --content and --style, and stylize said "image not
    found: x.png", naming neither, where compare said this."""
    for flag, items in flagged:
        if missing := not_there(items):
            raise CycleGANError(f"option '{flag}': {missing[0]}")


def image_not_found(path: str | Path) -> str:
    return f"image not found: {path}"


def check_out_folder(
    given: str | os.PathLike,
    *,
    holds: str = "the translations are written into, each named as its input",
    option: str = "--out",
) -> None:
    """Refuse (one line) an `--out` not there yet whose name is an image's, a clip's or an archive's (`--out
    result.mp4 clip.mp4`): it was made a folder of that name, holding `result.mp4/clip.mp4`, without a word (and
    `datasets download --root horse2zebra.zip` a folder `horse2zebra.zip`). `holds`: what the folder is for, as the
    line says it (`compare`'s: its grid, report and images; `compare --out grid.png` made that folder). `option`:
    the flag that names the folder (evaluate's `--save-images x.png` made a folder `x.png` too). `given`: the path as
    the user wrote it, before Path drops a trailing slash: `--out results.png/` is a folder as asked, not refused."""
    if os.fspath(given).endswith(("/", os.sep)):
        return
    out_dir = Path(given)
    name = out_dir.name.lower()
    archive = next((a for a in ARCHIVES if name.endswith(a) and len(name) > len(a)), None)
    suffix = archive or out_dir.suffix.lower()  # `.tar.gz` whole: its Path.suffix is .gz
    if suffix in (*IMAGE_EXTENSIONS, *VIDEO_FORMATS, ".gif", *ARCHIVES) and not os.path.lexists(out_dir):
        raise CycleGANError(
            f"{option} {out_dir} names a {suffix} file, but {option} is the folder {holds}; give a folder, e.g. "
            f"{option} {out_dir.with_name(out_dir.name[: -len(suffix)])}"
        )


def check_names_a_file(
    given: str | None, *, option: str, example: str, suffixes: tuple[str, ...], what: str = "file"
) -> None:
    """Refuse (one line) an output file's flag written as a folder, with a trailing slash, before the work: Path drops
    the slash, so `--out eval.json/` (evaluate's, bench's --json, stylize's --out) wrote the file eval.json, and
    `--json results/` a file named results, after minutes of work. `example`: a file name to give in the folder;
    `suffixes`: those that make the name without its slash the one meant."""
    if given is None or not given.endswith(("/", os.sep)):
        return
    bare = given.rstrip("/" + os.sep)
    meant = bare if Path(bare).suffix.lower() in suffixes else None
    raise CycleGANError(
        f"option '{option}' {given} names a folder: give the {what} to write"
        + (f" (e.g. {meant}, or {given}{example})" if meant else f" in it (e.g. {given}{example})")
    )


def check_not_a_file(given: str | os.PathLike, *, option: str = "--out") -> None:
    """Refuse (one line) an output folder that is there as something else (a file, `/dev/null`, `/proc/self/fd/1`)
    or lies under a file: `train --out /proc/self/fd/1` said "cannot write the run folder ...: Not a directory", as
    if the disk were at fault. One not there yet whose nearest existing folder takes no new entry (`_cannot_make_in`:
    read-only, or /proc as root) too: `train --out /proc/self/fd/9/run` said "cannot write the run folder ...", naming
    no option, and `demo` "cannot create or lock". Words as `check_outputs` gives a file there."""
    path = Path(given)
    there = next((p for p in (path, *path.parents) if p.exists()), None)
    if there is None:
        return
    if there.is_dir():
        if there != path and (why := _cannot_make_in(there)) is not None:
            raise CycleGANError(f"option '{option}': cannot write {path}: {why}")
        return
    if there == path:
        raise CycleGANError(
            f"option '{option}': {path} is {'a file' if path.is_file() else 'not a folder'}; give a folder"
        )
    raise CycleGANError(f"option '{option}': cannot write {path}: {there} is a file, not a folder")


def no_image_folder(folder: str | Path, what: str) -> CycleGANError:
    """`what` (e.g. "--data testA folder") `folder` missing, a file or a broken link: the words of every reader of a
    folder of images ("does not exist or is not a folder" left a file testA to be found by hand)."""
    path = Path(folder)
    if path.exists():
        why = "is a file, not a folder" if path.is_file() else "is not a folder"
    else:
        why = "is a broken link" if os.path.lexists(path) else "does not exist"
    return CycleGANError(f"{what} {folder} {why}")


def no_images(folder: str | Path, what: str) -> CycleGANError:
    """`what` `folder` without a file of an image's name in it (`walk_files`, hidden ones aside)."""
    return CycleGANError(f"{what} {folder} holds no images ({', '.join(IMAGE_EXTENSIONS)})")


def holds_images(folder: str | Path) -> bool:
    """Whether `folder` holds a file of an image's name, read up to the first one (`data.io.find_images` finds
    them all, torch imported)."""
    return any(p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") for p in walk_files(folder))


def home_expanded(path: str | os.PathLike[str]) -> str:
    """`path` with a leading `~` (or `~user`) as the home folder, as a shell expands a user's: a Python caller's `~`
    passes no shell. Refused in one line naming the path where no home folder is known (no $HOME and no passwd entry
    for the user, as in a container run under an arbitrary uid): `os.path.expanduser` left the `~`, so a writer made
    a folder named `~` in the working folder, and `Path.expanduser` raised a RuntimeError."""
    expanded = os.path.expanduser(os.fspath(path))
    if expanded.startswith("~"):
        raise CycleGANError(
            f"{escape(os.fspath(path))}: its ~ names no home folder here (no $HOME, and no user entry for it); give "
            f"the whole path, or ./{escape(os.fspath(path))} for a file or folder of that name here"
        )
    return expanded


def walk_files(folder: str | Path, *, others: list[Path] | None = None, hidden: bool = False) -> Iterator[Path]:
    """Every regular file under `folder`, recursively, following symlinked sub-folders (unlike `Path.rglob`).

    Hidden sub-folders (`.ipynb_checkpoints`, `.thumbnails`, `.Trash-1000`, `.git`) are not entered, unless
    `hidden`, as hidden files are not read: a notebook's or a file manager's copies of a folder's images were
    training images. `folder` itself may be hidden. Hidden files are yielded (callers leave them out).

    Each real folder is visited once (folders are tracked by their resolved path), so a symlink to an
    ancestor or to a sibling neither loops nor yields the same files twice; breadth first, so a folder
    reached several ways is listed under its shortest path (the first in name order among equals).
    A symlink to a folder above `folder` (`trainA/up -> ..`) is not entered: it holds `folder` and its
    siblings, so trainB's images were read as trainA's. Entries that are neither folders nor regular files
    (FIFOs, devices, sockets, dangling links) are never opened, and sub-folders that cannot be listed are
    skipped; `others` collects these three. Callers sort.
    """

    seen: set[Path] = set()
    top = Path(folder).resolve()
    todo = deque([Path(folder)])
    while todo:
        d = todo.popleft()
        real = d.resolve()
        if real in seen:
            continue
        seen.add(real)
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:  # a sub-folder without read permission: its images named as left out, not dropped unseen
            if others is not None and d != Path(folder):
                others.append(d)
            continue
        for e in entries:
            try:
                if e.is_dir():  # follows symlinks
                    if not hidden and e.name.startswith("."):
                        continue
                    if e.is_symlink() and holds(Path(e.path).resolve(), top):
                        if others is not None:
                            others.append(Path(e.path))
                    else:
                        todo.append(Path(e.path))
                elif e.is_file():
                    yield Path(e.path)
                elif others is not None:
                    others.append(Path(e.path))
            except OSError:  # an unreadable entry
                if others is not None:
                    others.append(Path(e.path))


def holds(target: Path, folder: Path) -> bool:
    """Whether folder `target` is strictly above `folder` (both resolved)."""
    return target != folder and folder.is_relative_to(target)


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at `path` (links followed), or None where there is none."""
    try:
        st = path.stat()
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


TRAINING_FILES = (CHECKPOINT_NAME, BEST_NAME, CONFIG_NAME, LOG_NAME)  # a run's files only `cyclegan train` writes


def training_file(path: Path) -> Path | None:
    """The run file `path` would replace: a checkpoint.pt, best.pt, config.json or log.jsonl in a run folder
    (`run_files.is_run_folder`: from its first step on, before its first checkpoint too; a model's folder in Hugging
    Face's layout, checkpoint.pt and config.json without a log, is none), through a link too; else None. `bench
    --json RUN/checkpoint.pt --overwrite` replaced a run's checkpoint with a JSON, and the run could neither resume
    nor translate; `--json RUN/log.jsonl` or `RUN/config.json` likewise left a run that could neither resume nor
    report. What commands write into a run folder by design (evaluate's `--out RUN/eval.json`, the demo's report)
    has other names."""
    for p in dict.fromkeys((path.absolute(), path.resolve())):
        if p.name in TRAINING_FILES and is_run_folder(p.parent):
            return p
    return None


def check_outputs(
    outputs: Iterable[str | Path],
    *,
    overwrite: bool,
    option: str = "--out",
    out_folder: str | Path | None = None,
    inputs: Iterable[str | Path] = (),
    input_folders: Iterable[str | Path] = (),
) -> None:
    """Refuse, in one line and before any work, to write where a file would be lost.

    outputs: every file the command will write; out_folder: the folder they go in (when the command takes
    one); inputs / input_folders: the files and folders the command reads. Refused:
    - an `out_folder` that exists as a file;
    - an `out_folder` that is, or is inside, an input folder, an output inside an input folder, and an
      output that is an input file, even with `overwrite` (sources are never replaced, and outputs must not
      become the next run's inputs);
    - an output that exists already, unless `overwrite` (an existing folder always);
    - a run folder's checkpoint.pt, best.pt, config.json or log.jsonl (`training_file`), even with `overwrite`:
      only training writes them.
    Files are compared resolved and by identity (device and inode), so symlinks, `..` and hard links do not
    hide a clash; callers pass the files their inputs resolve to (`pretrained:NAME`: its cached file).
    A name over `NAME_MAX` bytes (a folder's on the way too) is refused: it was "File name too long" as a
    traceback from the first look at it.
    """
    outputs = [Path(o) for o in outputs]
    for path in (*outputs, *([Path(out_folder)] if out_folder is not None else [])):
        if long := next((n for n in path.parts if len(os.fsencode(n)) > NAME_MAX), None):
            raise CycleGANError(
                f"option '{option}': {path} holds a name of {len(os.fsencode(long))} bytes, over the {NAME_MAX} a "
                "file or folder name takes; give a shorter one"
            )
    if out_folder is not None:
        folder = Path(out_folder)
        if folder.exists() and not folder.is_dir():
            raise CycleGANError(f"option '{option}': {folder} is a file; give a folder")
        real = folder.resolve()
        for d in input_folders:
            if inside(real, Path(d).resolve()):
                where = "is the input folder" if real == Path(d).resolve() else "is inside the input folder"
                raise CycleGANError(
                    f"option '{option}': {folder} {where} {d}; write somewhere outside the inputs "
                    "(sources are never replaced, even with --overwrite)"
                )
    sources: dict[Any, Path] = {}  # an input by its resolved path and by its file's identity (hard links)
    for i in map(Path, inputs):
        sources[i.resolve()] = i
        if (identity := _identity(i)) is not None:
            sources[identity] = i
    for o in outputs:
        source = sources.get(o.resolve()) or sources.get(_identity(o))
        if source is not None:
            raise CycleGANError(
                f"option '{option}': writing {o} would replace the input {source}; choose another "
                f"{option} (inputs are never replaced, even with --overwrite)"
            )
    for d in map(Path, input_folders):
        within = [o for o in outputs if inside(o.parent.resolve(), d.resolve())]
        if within:
            raise CycleGANError(
                f"option '{option}': {within[0]} would be inside the input folder {d}; write somewhere outside "
                "the inputs (outputs must not become the next run's inputs)"
            )
    for o in outputs:  # after the inputs: an input's refusal says more
        if (run_file := training_file(o)) is not None:
            raise CycleGANError(
                f"option '{option}': {o} is the training run's {run_file.name} (only `cyclegan train` writes it, "
                f"even with --overwrite); choose another {option}"
            )
    folders = [o for o in outputs if o.is_dir()]
    if folders:
        raise CycleGANError(f"option '{option}': {folders[0]} is a folder, where a file would be written")
    in_proc: dict[Path, bool] = {}  # by folder: translate's thousands of outputs share a few
    for o in outputs:
        if (kind := _not_a_file(o, in_proc)) is not None:
            raise CycleGANError(
                f"option '{option}': {o} is {kind}, not a file (nothing is written to standard output or a device "
                "here); give a file"
            )
    refused: dict[Path, str | None] = {}  # by folder: why it takes no new file, probed once
    for o in outputs:  # its folder must be one, or creatable: the nearest existing parent a writable folder
        parent = next(p for p in o.absolute().parents if p.exists())
        if not parent.is_dir():
            raise CycleGANError(f"option '{option}': cannot write {o}: {parent} is a file, not a folder")
        if parent not in refused:
            refused[parent] = _cannot_make_in(parent)
        if refused[parent] is not None:
            raise CycleGANError(f"option '{option}': cannot write {o}: {refused[parent]}")
    existing = [o for o in outputs if o.exists() or o.is_symlink()]
    if existing and not overwrite:
        more = f" (and {counted(len(existing) - 1, 'more output')})" if len(existing) > 1 else ""
        raise CycleGANError(
            f"{existing[0]} already exists{more}: pass --overwrite to replace, or choose another {option}"
        )


def _cannot_make_in(folder: Path) -> str | None:
    """Why nothing can be made in the existing folder `folder` (the words after "cannot write OUTPUT: "), else None:
    its mode forbids it, or, where the mode allows it, a probe fails (`_no_new_file`). Shared by the checks of output
    files (`check_outputs`) and of output folders (`check_not_a_file`)."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{folder} is not writable"
    why = _no_new_file(folder)
    return None if why is None else f"no file can be made in {folder} ({why})"


def _no_new_file(folder: Path) -> str | None:
    """Why no file can be made in `folder`, whose mode allows it (`os.access`), else None. As root every folder's
    mode does, /proc's too: `evaluate --out /proc/self/fd/9/x.json` (fd 9 not open) failed only once its scores were
    printed; on Windows `os.access` reads no ACL. Probed once: by a file of no name where Linux makes one (O_TMPFILE),
    else by an empty file named as `write_atomic`'s temporaries (`remove_stale_temporaries` takes one a kill left)
    and removed at once, on Windows by the system at its close: `tempfile` there takes a refused name for a taken
    one and tries another, up to TMP_MAX (2**31) times, a hang."""
    anonymous = getattr(os, "O_TMPFILE", 0)  # Linux's
    with contextlib.suppress(OSError):  # a file system without it (/proc, NFS), or a refusal: said by the named one
        if anonymous:
            os.close(os.open(folder, os.O_WRONLY | anonymous, 0o600))
            return None
    temporary = getattr(os, "O_TEMPORARY", 0)  # Windows: deleted when closed
    probe = folder / f".cyclegan-probe.{os.urandom(4).hex()}.tmp"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | temporary, 0o600))
    except OSError as e:
        return e.strerror or str(e)
    if not temporary:
        with contextlib.suppress(OSError):
            os.unlink(probe)
    return None


def _not_a_file(path: Path, in_proc: dict[Path, bool]) -> str | None:
    """What an existing output is when it is neither a file nor a folder (followed through links), else None:
    `--json /dev/stdout --overwrite` renamed a file over /dev/stdout (as root: the system's own, for every process),
    and `--json >(jq .)` named a pipe."""
    if _through_proc(path, in_proc):
        return "standard output or another open file of a process (its link goes through /proc)"
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):  # not there (or a broken link): an ordinary new file
        return None
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return None


def _through_proc(path: Path, in_proc: dict[Path, bool]) -> bool:
    """Whether `path` or a link on its way is a process's open file (/dev/stdout -> /proc/self/fd/1, /dev/fd/N):
    when standard output goes to a file (`> out.json`), /dev/stdout is a regular file by its stat, and
    `--json /dev/stdout --overwrite` renamed a new file over the link, as root /dev/stdout itself, for every
    process. A path outside /proc (/dev/shm) is an ordinary folder's. `in_proc`: folders resolved so far."""
    p = Path(os.path.abspath(path))
    for _ in range(40):  # the kernel's limit on links followed
        try:
            if p.parent not in in_proc:  # each folder resolved once (`in_proc`, the caller's)
                in_proc[p.parent] = p.parent.resolve().parts[:2] == ("/", "proc")  # the root's /proc, not C:\proc
            if in_proc[p.parent] and os.path.lexists(p):  # a new name under /proc is no open file: the write says
                return True
            if not p.is_symlink():
                return False
            p = Path(os.path.abspath(os.path.join(p.parent, os.readlink(p))))
        except (OSError, ValueError, RuntimeError):  # a loop, an unreadable link: the writes' own errors name it
            return False
    return False


def unique_stems(
    files: Sequence[Path],
    *,
    ext: str | None = None,
    warn: bool = False,
    suffix_of: Callable[[Path], str] | None = None,
    quiet: Container[Path] = (),
) -> list[str]:
    """One output stem per input file, in order: its own stem, or STEM-2, STEM-3... when taken before.

    `warn`: say on stderr which input gets a suffixed name (`ext` completes the file name shown).
    `suffix_of`: each output's own suffix (".png", a clip's ".gif"), when they differ: names clash only when
    stem and suffix both do. Names differing only in case clash too: on the file systems of macOS and Windows
    they are one file (`Photo.png` was refused there as made by another program, and left out).
    `quiet`: inputs named but not warned about (`--skip-existing` leaves them out: nothing is written for them).
    A name over `NAME_MAX` bytes with its suffix (a 251-byte stem's `-2`, or `.webp` for a `.png`) is cut at its
    stem's end (`fitted_stem`): it was "File name too long", a traceback, before any work.
    """
    used: dict[str, str] = {}  # casefolded output name -> the name given
    stems = []
    for path in files:
        suffix = suffix_of(path) if suffix_of else (f".{ext}" if ext else "")
        own = name = fitted_stem(path.stem, "", suffix)
        n = 2
        while (name + suffix).casefold() in used:
            name, n = fitted_stem(path.stem, f"-{n}", suffix), n + 1
        if warn and name != path.stem and path not in quiet:
            why = f"{used[(own + suffix).casefold()]} is taken" if name != own else f"a name takes {NAME_MAX} bytes"
            msg = f"warning: {path} will be written as {name}{suffix} ({why})"
            print_warning(msg)  # one line, whatever the file names hold
        used[(name + suffix).casefold()] = name + suffix
        stems.append(name)
    return stems


def fitted_stem(stem: str, tail: str, suffix: str) -> str:
    """`stem + tail`, the end of `stem` cut (whole characters) so that with `suffix` it is within `NAME_MAX`
    bytes, the longest file name the file systems take."""
    while len(os.fsencode(stem + tail + suffix)) > NAME_MAX and stem:
        stem = stem[:-1]
    return stem + tail


# --- one writer per folder, and what a crash leaves behind ------------------------------------------------

_HELD_LOCKS: set[int] = set()  # file descriptors of the FolderLocks this process holds
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # opening a symbolic link fails (ELOOP) instead of opening its target


def _close_inherited_locks() -> None:
    """In a forked child (a DataLoader worker): close its copies of the parent's lock files, so that the
    lock dies with the parent (kill -9 included) rather than with the last child. The parent keeps it."""
    for fd in _HELD_LOCKS:
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_locks)


def _missing_folders(files: Iterable[Path]) -> list[Path]:
    """The folders that writing `files` would create (each file's parents up to the first that exists),
    deepest first."""
    missing: set[Path] = set()
    for f in files:
        for parent in f.parents:
            if parent.exists() or parent.is_symlink():
                break
            missing.add(parent)
    return sorted(missing, key=lambda p: len(p.parts), reverse=True)


class FolderLock:
    """An exclusive lock on a folder, so that one process at a time writes there (a training run).

    An OS file lock (`flock`) on FOLDER/NAME, a file holding the holder's PID: the operating system drops it
    when the holder ends, however it ends, so a kill -9 leaves no stale lock behind. `release` removes the
    file. Where `fcntl` is missing (Windows), nothing is locked. Locks on network file systems are only as
    good as the file system's `flock`.
    """

    def __init__(self, folder: str | Path, name: str = ".lock"):
        self.folder = Path(folder)
        self.path = self.folder / name
        self.holder: int | None = None  # after a refused `acquire`: the holder's PID, if it could be read
        self._fd: int | None = None
        self._made: list[Path] = []  # the folder and the parents `acquire` created for it, deepest first

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock, creating the folder if needed; False (and `holder` set) if another process has it."""
        try:
            import fcntl
        except ImportError:  # Windows: no flock; one run per folder is then the user's care
            return True
        missing = _missing_folders([self.path])
        try:
            self.folder.mkdir(parents=True)
            self._made = missing
        except FileExistsError:
            pass
        while True:
            # never through a symbolic link: the PID written below truncated its target (a `.lock` planted in a
            # shared output folder, pointing at a file of the user's)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                self.holder = self._read_holder()
                return False
            # The previous holder may have removed the file between our open and our flock: then this lock
            # is on a file nobody else can find. Start again on the file now at that path.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        _HELD_LOCKS.add(fd)
        return True

    @property
    def holder_text(self) -> str:
        """The other holder as refusals name it: "PID 1234", or "PID unknown" where its file could not be read."""
        return f"PID {self.holder}" if self.holder else "PID unknown"

    def held_elsewhere(self) -> bool:
        """Whether another process holds this lock now (`holder` set to its PID if readable), without
        taking it or creating anything."""
        try:
            import fcntl
        except ImportError:
            return False
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:  # no lock file: nobody holds it
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            self.holder = self._read_holder()
            return True
        finally:
            os.close(fd)  # drops the shared lock this probe took, if it took one
        return False

    def _read_holder(self) -> int | None:

        for _ in range(20):  # the holder writes its PID just after taking the lock
            try:
                text = self.path.read_text().strip()
            except OSError:
                text = ""
            if text.isdigit():
                return int(text)
            time.sleep(0.05)
        return None

    def release(self, *, keep_folder: bool = False) -> None:
        """Drop the lock and remove its file; and the folder and its parents that `acquire` created, where
        they are still empty and not `keep_folder`."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)  # while still locked: a process that opened it re-checks (above)
        _HELD_LOCKS.discard(self._fd)
        os.close(self._fd)
        self._fd = None
        for folder in [] if keep_folder else self._made:
            try:
                folder.rmdir()
            except OSError:  # not empty: the run wrote something
                break


def link_note(path: str | Path) -> str:
    """ " (a symbolic link to TARGET)" where the folder `path` is one, else "": a line naming a run folder reached
    through a link (`runs/latest -> h2z`) says which folder it means, the one a resume goes on in."""
    if not os.path.islink(path):
        return ""
    return f" (a symbolic link to {escape(os.readlink(path))})"


def broken_link(path: str | Path, option: str) -> CycleGANError | None:
    """The one-line error for an output folder `path` (given by `option`) that is a symbolic link to nothing
    (an unmounted disk), else None: creating it said "File exists", locking in it "No such file or directory"."""
    if not (os.path.islink(path) and not os.path.exists(path)):
        return None
    return CycleGANError(
        f"option '{option}': {path} is a broken symbolic link (to {os.readlink(path)}); make its target, or remove "
        "it and run again"
    )


@contextlib.contextmanager
def claim_folder(folder: str | Path, option: str) -> Iterator[None]:
    """Hold a `FolderLock` on the output folder `folder` (given by `option`, created if needed) for the block:
    one run writes there at a time, so two runs never write the same files; a second one stops in one line
    before any work. A block that ends in an error leaves no folder it created and found empty."""
    lock = FolderLock(folder)
    try:
        if not lock.acquire():
            raise CycleGANError(
                f"option '{option}': {folder} is in use by another run writing there ({lock.holder_text}); wait for "
                f"it to end or choose another {option}"
            )
    except OSError as e:
        if lock.path.is_symlink():  # O_NOFOLLOW's ELOOP: "Too many levels of symbolic links"
            raise CycleGANError(
                f"option '{option}': {lock.path} is a symbolic link, not a lock file: remove it and run again"
            ) from None
        if broken := broken_link(folder, option):  # said as "No such file or directory"
            raise broken from None
        raise CycleGANError(f"option '{option}': cannot create or lock {folder} ({e.strerror or e})") from None
    worked = False
    try:
        yield
        worked = True
    finally:
        lock.release(keep_folder=worked)  # a run that did its work leaves its folder, even empty


def file_lock(path: Path) -> FolderLock:
    """The lock on the name of the output file `path` (`.NAME.lock` beside it) that every writer of that one file
    takes: `claim_file` (export, stylize, `translate_video`) for its run, `translate` (`output_claimed`) while it
    writes the file."""
    return FolderLock(path.parent, f".{temporary_stem(path.name)}.lock")


@contextlib.contextmanager
def output_claimed(path: Path) -> Iterator[None]:
    """Hold `file_lock(path)` while the block writes `path` (one of the many outputs under a `claim_folder`): a
    `translate_video`, export or stylize writing that name meanwhile (each holds the name, not the folder) had its
    live temporary deleted by `translate`'s clean-up and both wrote the file. CycleGANError (a line, for the caller
    to name its input in) where another run holds it or the lock cannot be made."""
    lock = file_lock(path)
    try:
        if not lock.acquire():
            raise CycleGANError(f"{path} is being written by another run ({lock.holder_text}); left alone")
    except OSError as e:
        raise CycleGANError(f"cannot create or lock {lock.path} ({e.strerror or e})") from None
    try:
        yield
    finally:
        lock.release(keep_folder=True)


@contextlib.contextmanager
def claim_file(path: str | Path, option: str) -> Iterator[None]:
    """Hold a lock on the name of the one output file `path` (given by `option`; `.NAME.lock` beside it) for the
    block, after removing the temporaries a killed writer of it left (an export's `.NAME.XXXXXXXX.tmp`, as large as
    the file and hidden, stayed for ever): one writer of the file at a time, so none removes another's live one. A
    block that ends in an error leaves no folder the lock made and found empty."""
    path = Path(path)
    lock = file_lock(path)
    try:
        if not lock.acquire():
            raise CycleGANError(
                f"option '{option}': {path} is being written by another run ({lock.holder_text}); wait for it to end "
                f"or choose another {option}"
            )
    except OSError as e:
        raise CycleGANError(f"option '{option}': cannot create or lock {lock.path} ({e.strerror or e})") from None
    worked = False
    try:
        if not FolderLock(path.parent).held_elsewhere():  # a `translate` writing the folder: its temporary is live
            remove_stale_temporaries_of([path])
        yield
        worked = True
    finally:
        lock.release(keep_folder=worked)


@contextlib.contextmanager
def removed_on_failure(outputs: Iterable[str | Path]) -> Iterator[None]:
    """On an error (Ctrl-C included) in the block, remove what it made of its planned `outputs`: the files
    among them that were not there before and the folders for them that were not, if left empty. A failed
    command leaves no half-made output folder, and never touches a file it found (even one its --overwrite
    replaced). Only safe where no other process writes these files (under the folder's `FolderLock`)."""
    outputs = [Path(o) for o in outputs]
    new_files = [o for o in outputs if not (o.exists() or o.is_symlink())]
    new_folders = _missing_folders(outputs)
    try:
        yield
    except BaseException:
        for f in new_files:
            f.unlink(missing_ok=True)
        for d in new_folders:
            with contextlib.suppress(OSError):  # not empty: something else was put there; leave it
                d.rmdir()
        raise


T = TypeVar("T")


def written_through_a_stop(write: Callable[[], T]) -> tuple[T, KeyboardInterrupt | None]:
    """write()'s result, and the stop (Ctrl-C; SIGTERM or SIGHUP: `process.Terminated`) that cut a first try short,
    after which it is written again: the work is done by then (`compare`'s images, `stylize`'s optimisation), and a
    stop while its outputs were written removed them all (minutes of Gatys each), or, with --overwrite, left
    `compare`'s new images under the earlier report. A second stop goes on, and the outputs are removed
    (`removed_on_failure`)."""
    try:
        return write(), None
    except KeyboardInterrupt as e:
        return write(), e


def is_atomic_temporary(name: str) -> bool:
    """Whether a file name is one of `write_atomic`'s temporaries (`.NAME.XXXXXXXX.tmp`, from mkstemp)."""

    return re.fullmatch(r"\..+\.[a-z0-9_]{8}\.tmp", name) is not None


def temporary_of(name: str) -> str:
    """The output name (`temporary_stem`: the name, or its start) a `write_atomic` temporary `.NAME.XXXXXXXX.tmp` is
    written for: NAME."""
    return name[1 : -len(".XXXXXXXX.tmp")]


def remove_stale_temporaries(folder: str | Path, *, recursive: bool = True) -> list[Path]:
    """Delete the temporary files that `write_atomic` calls cut short by a crash (kill -9, power loss) left in
    `folder` (and its sub-folders, if `recursive`); returns them. Only safe where no other process is writing (e.g.
    under the folder's `FolderLock`): a live write's temporary file looks the same. One whose output another
    process holds by its name (`claim_file`: `export --out RUN/g.onnx` while a training run starts in RUN) is live:
    kept (it was deleted, and the export failed at its last step)."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for path in folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp"):
        if is_atomic_temporary(path.name) and path.is_file() and not path.is_symlink() and not _claimed(path):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _claimed(temporary: Path) -> bool:
    """Whether another process holds the output `temporary` (`.NAME.XXXXXXXX.tmp`) is written for by its name
    (`claim_file`'s `.NAME.lock`)."""
    return file_lock(temporary.parent / temporary_of(temporary.name)).held_elsewhere()


def remove_stale_temporaries_of(outputs: Iterable[Path], *, keep_claimed: bool = False) -> None:
    """Delete the temporary files `write_atomic` left beside these outputs when a run writing them was
    killed (kill -9, power loss; a clip's can be gigabytes): they stayed, hidden, through every later run.
    Only under a lock on the outputs (their folder's, `claim_folder`, or the file's, `claim_file`), and only those
    named after an output this run writes. `keep_claimed` (under a folder's lock): keep those whose output another
    process holds by its name (`file_lock`: a `translate_video` or export of it, whose temporary is live). Each
    folder is listed once: a glob per output listed it once per output, quadratic in a folder of thousands."""
    wanted: dict[Path, set[str]] = {}
    for output in outputs:
        wanted.setdefault(output.parent, set()).add(temporary_stem(output.name))
    for folder, names in wanted.items():
        try:
            with os.scandir(folder) as entries:
                stale = [
                    e.path
                    for e in entries
                    if is_atomic_temporary(e.name)
                    and temporary_of(e.name) in names
                    and e.is_file(follow_symlinks=False)
                ]
        except OSError:  # not made yet
            continue
        for path in stale:
            if not (keep_claimed and _claimed(Path(path))):
                Path(path).unlink(missing_ok=True)


# the marks below are `cyclegan datasets synthetic`'s (data/synthetic.py, synthetic_video.py); here, below data/io.py,
# whose `left_out` names a marked folder to training and evaluate
_WHOLE_AGAIN = "the same `cyclegan datasets synthetic` with --overwrite renders it whole"


def unfinished_marker(folder: Path) -> Path:
    """The file beside a dataset's `folder` (`.trainA.unfinished`) that says a rendering into it has not ended:
    written before its first file and removed after its last, so that one killed (kill -9, a power cut), which
    says nothing, leaves it. Hidden beside the folder, not in it: the folder holds the images alone."""
    return folder.parent / f".{folder.name}.unfinished"


def unfinished(folder: Path) -> str | None:
    """The line naming `folder` as part of a dataset whose rendering stopped before its end, if it is one: training
    on it (or scoring) took the part as the whole without a word (`data.io.left_out` says it)."""
    if not unfinished_marker(folder).is_file():
        return None
    return f"{folder} holds part of a dataset: its rendering stopped before its end (or is under way); {_WHOLE_AGAIN}"


@contextlib.contextmanager
def marked_unfinished(folders: list[Path]) -> Iterator[None]:
    """Each of `folders` marked as being rendered (`unfinished_marker`) for the block; the marks are removed when it
    ends without an error, and only then."""
    for folder in folders:
        why = f"{folder.name} is being rendered, or was when its rendering was killed: {_WHOLE_AGAIN}\n"
        write_atomic(unfinished_marker(folder), lambda tmp, why=why: Path(tmp).write_text(why))
    yield
    for folder in folders:
        unfinished_marker(folder).unlink(missing_ok=True)
