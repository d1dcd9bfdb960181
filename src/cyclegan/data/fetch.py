"""Downloads over HTTP that resume: a file streamed into a `.part` next to its destination, continued with an
HTTP Range request after a cut connection, one download of a name into a folder at a time, and the SHA-256
checks. Used for the standard datasets (`data.download`) and the published generators (`zoo`). Only the
standard library speaks HTTP here (urllib)."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from ..errors import CycleGANError
from ..files import FolderLock
from ..version import __version__

CHUNK = 1 << 16


def check_sha256(sha256: str | None) -> str | None:
    if sha256 is None:
        return None
    if not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise CycleGANError(f"option '--sha256' {sha256!r}: expected 64 hexadecimal digits")
    return sha256.lower()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _content_range(header: str | None) -> tuple[int | None, int | None]:
    """`bytes START-END/TOTAL` (or `bytes */TOTAL`) -> (START, TOTAL); None where absent or `*`."""
    m = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", header or "")
    if not m:
        return None, None
    start = int(m.group(1)) if m.group(1) else None
    return start, int(m.group(2)) if m.group(2) != "*" else None


def _open(url: str, offset: int, *, timeout: float):
    headers = {"User-Agent": f"cyclegan/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


@contextlib.contextmanager
def download_lock(folder: Path, name: str) -> Iterator[None]:
    """One download of `name` into `folder` at a time (two would append to one .part file): a second one is
    refused in one line naming the first one's PID."""
    lock = FolderLock(folder, f".{name}.lock")
    if not lock.acquire():
        pid = f"PID {lock.holder}" if lock.holder else "PID unknown"
        raise CycleGANError(f"another download of {name} into {folder} is running ({pid}); wait for it to end")
    try:
        yield
    finally:
        lock.release()


def fetch(
    url: str, part: Path, *, progress: bool = True, timeout: float = 60.0, attempts: int = 1
) -> tuple[int | None, int]:
    """Download `url` into `part`, continuing from its current size when the server honours Range, and again
    (up to `attempts` connections in all) when the connection breaks mid-transfer.

    Returns (the full size the server announced or None, the offset the last transfer resumed from). An
    interrupted transfer leaves `part` in place and raises a CycleGANError saying to run again.
    """
    for attempt in range(attempts):
        try:
            return _fetch_once(url, part, progress=progress, timeout=timeout)
        except _Interrupted as e:
            if attempt == attempts - 1:
                raise CycleGANError(str(e)) from None
            print(f"warning: {str(e).split(';')[0]}; resuming", file=sys.stderr)
    raise AssertionError("unreachable")


class _Interrupted(Exception):
    """A transfer that broke off after some bytes: it can resume."""


def _fetch_once(url: str, part: Path, *, progress: bool, timeout: float) -> tuple[int | None, int]:
    offset = part.stat().st_size if part.exists() else 0
    try:
        resp = _open(url, offset, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:  # nothing left to send: complete already, or a different file
            _, total = _content_range(e.headers.get("Content-Range"))
            if total == offset:
                return total, offset
            part.unlink()
            return _fetch_once(url, part, progress=progress, timeout=timeout)
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
        bar = tqdm(
            total=total,
            initial=offset,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=name,
            disable=not progress,
            dynamic_ncols=True,
        )
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
            raise _Interrupted(
                f"download of {url} stopped after {done}{of} bytes ({reason}); run the same command again to resume"
            ) from None
    return total, offset
