"""Writing files safely: atomic replacement and unique output names. Used by every command that writes."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path


def write_atomic(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call `write(tmp)` on a temporary file beside `path`, flush it to disk, then rename it over `path`.

    A crash, kill or Ctrl-C mid-write leaves the previous file intact (or none), never a half-written one;
    the temporary file is removed on any error.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:  # the data must be on disk before the rename makes it the file
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def unique_stems(files: Sequence[Path], *, ext: str | None = None, warn: bool = False) -> list[str]:
    """One output stem per input file, in order: its own stem, or STEM-2, STEM-3... when taken before.

    `warn`: say on stderr which input gets a suffixed name (`ext` completes the file name shown).
    """
    used: set[str] = set()
    stems = []
    for path in files:
        name, n = path.stem, 2
        while name in used:
            name, n = f"{path.stem}-{n}", n + 1
        if warn and name != path.stem:
            suffix = f".{ext}" if ext else ""
            print(f"warning: {path} will be written as {name}{suffix} ({path.stem}{suffix} is taken)", file=sys.stderr)
        used.add(name)
        stems.append(name)
    return stems
