"""Downloads over HTTP that resume: a file streamed into a `.part` next to its destination, continued with an
HTTP Range request after a cut connection (started again instead where the server's file changed meanwhile:
its ETag, Last-Modified or size, recorded in `PART.json`), one download of a name into a folder at a time,
and the SHA-256 checks. Used for the standard datasets (`data.download`) and the published generators (`zoo`). Only the
standard library speaks HTTP here (urllib).

Every download is bounded (`Bounds`): in bytes (what the server announces is checked before the body is
read, and the bytes are counted as they arrive, so a server that streams without end is cut off at the
bound) and in time, all attempts together (a watchdog shuts the connection at the deadline, so a server that
drips one byte at a time, each read within the per-read timeout, cannot hold the command forever).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import json
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import CycleGANError
from ..files import FolderLock, write_atomic
from ..progress import print_line, print_warning, progress_bar
from ..version import __version__

CHUNK = 1 << 16
REDIRECT_CODES = (301, 302, 303, 307, 308)
# A write of the .part failing (a full disk, a file-size limit, a quota, a read-only file system): not a cut
# connection, which is tried again
LOCAL_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS}


@dataclass(frozen=True)
class Bounds:
    """What one download may take: at most `max_bytes` (None: no bound), within `seconds` from its start to
    its end, all attempts together (None: no deadline). `bytes_from` and `seconds_from` say where each bound
    comes from (an option's name, the catalogue), for the refusal's message."""

    max_bytes: int | None = None
    seconds: float | None = None
    bytes_from: str = ""
    seconds_from: str = ""


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


class _Watchdog:
    """The deadline of one download: at `seconds` after it starts, the connection open at that moment (and
    any opened later) is shut down, so whatever read is waiting returns at once. `expired` tells the reader
    why its connection ended."""

    def __init__(self, seconds: float | None):
        self.expired = False
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._timer = None
        if seconds is not None:
            self._timer = threading.Timer(seconds, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shut()

    def _shut(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):  # closed already: nothing left to stop
                self._socket.shutdown(socket.SHUT_RDWR)

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._socket = sock
            if self.expired:
                self._shut()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def address_problem(url: str, expected: str = "expected an http:// or https:// address") -> str | None:
    """Why `url` is no address to download from, None when it is one: not http(s) (`expected`), or not readable
    as an address (`http://[::1` raised urllib's ValueError: a traceback)."""
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # a port that is no number, or out of range, raises here
    except ValueError as e:
        return f"not a valid address ({e})"
    return None if parts.scheme in ("http", "https") else expected


def shown_address(url: str) -> str:
    """`url` as messages show it: its query (a signed address's token, `?token=T`) as `?...`, kept out of logs
    and screenshots; the full address is still the one fetched."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # not readable as an address (`address_problem` says so): its query hidden all the same
        head, query, _ = url.partition("?")
        return f"{head}?..." if query else url
    return urllib.parse.urlunsplit(parts._replace(query="...")) if parts.query else url


class _NoRedirectOutside(urllib.request.HTTPRedirectHandler):
    """Redirects followed only to http and https (urllib would also follow one to ftp), and, from an https://
    address the user gave, never down to plain http: anyone on the path could then swap the file (urllib follows
    the downgrade without a word)."""

    def __init__(self, origin: str):
        super().__init__()
        self.secure = urllib.parse.urlsplit(origin).scheme == "https"

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        shown = shown_address(newurl)
        if address_problem(newurl):
            raise urllib.error.HTTPError(newurl, code, f"redirected to {shown!r}, not http(s)", headers, fp)
        if self.secure and urllib.parse.urlsplit(newurl).scheme != "https":
            raise _Downgrade(newurl, code, f"redirected to {shown!r}: plain http after https", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _Downgrade(urllib.error.HTTPError):
    """A redirect from https down to plain http, refused (`_http_error` says how to accept it)."""


def file_address(base: str, leaf: str) -> str:
    """`BASE/LEAF`: `leaf` (quoted) appended to the path of the base address `base`, its query kept after it (a
    mirror's token or signature: `https://host/d?token=T` serves `https://host/d/NAME.zip?token=T`; the name was
    appended to the query, `?token=T/NAME.zip`), its fragment (never sent) left out."""
    parts = urllib.parse.urlsplit(base)
    path = f"{parts.path.rstrip('/')}/{urllib.parse.quote(leaf)}"
    return urllib.parse.urlunsplit(parts._replace(path=path, fragment=""))


def http_base(url: str) -> str:
    """The folder of `url` (`BASE` of `BASE/NAME.zip`, its query kept: `file_address`) at its plain http address."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(scheme="http", path=parts.path.rsplit("/", 1)[0]))


def _opener(watchdog: _Watchdog, url: str) -> urllib.request.OpenerDirector:
    """urllib's opener for `url` whose every connection the watchdog can shut down."""

    def watched(connection_class):
        class Watched(connection_class):
            def connect(self):
                super().connect()
                watchdog.watch(self.sock)

        return Watched

    class HTTP(urllib.request.HTTPHandler):
        def do_open(self, http_class, req, **kwargs):
            return super().do_open(watched(http_class), req, **kwargs)

    class HTTPS(urllib.request.HTTPSHandler):
        def do_open(self, http_class, req, **kwargs):
            return super().do_open(watched(http_class), req, **kwargs)

    return urllib.request.build_opener(HTTP, HTTPS, _NoRedirectOutside(url))


def _open(url: str, offset: int, *, timeout: float, watchdog: _Watchdog):
    headers = {"User-Agent": f"cyclegan/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return _opener(watchdog, url).open(urllib.request.Request(url, headers=headers), timeout=timeout)


@contextlib.contextmanager
def download_lock(
    folder: Path, name: str, *, elsewhere: str | None = None, wait: float = 0.0, poll: float = 0.2
) -> Iterator[None]:
    """One download of `name` into `folder` at a time (two would append to one .part file): a second one waits
    up to `wait` seconds for the first to end (saying so once on stderr), then is refused in one line naming the
    first one's PID. `elsewhere`: how to download into another folder, for a folder that cannot be written in."""
    lock = FolderLock(folder, f".{name}.lock")
    deadline = time.monotonic() + wait
    said = False
    while True:
        try:
            acquired = lock.acquire()
        except OSError as e:  # a read-only folder, a name the file system refuses
            hint = f"; {elsewhere}" if elsewhere else ""
            raise CycleGANError(
                f"cannot lock {folder / f'.{name}.lock'} for the download: {e.strerror}{hint}"
            ) from None
        if acquired or time.monotonic() >= deadline:
            break
        if not said:
            print_line(f"waiting for another download of {name} into {folder} ({lock.holder_text}) to end")
            said = True
        time.sleep(poll)
    if not acquired:
        raise CycleGANError(
            f"another download of {name} into {folder} is running ({lock.holder_text}); wait for it to end"
        )
    try:
        yield
    finally:
        lock.release()


def fetch(
    url: str,
    part: Path,
    *,
    progress: bool = True,
    timeout: float = 60.0,
    attempts: int = 1,
    bounds: Bounds = Bounds(),
    missing: str = "check the dataset name or --base-url",
    mirror: str = "--base-url",
    base_via: str = "--base-url {}",
) -> tuple[int | None, int]:
    """Download `url` into `part`, continuing from its current size when the server honours Range, and again
    (up to `attempts` connections in all) when the connection breaks mid-transfer. `timeout`: per read;
    `bounds`: the whole download's bytes and seconds; `missing`: what to check when the server has no such
    file (HTTP 404); `mirror`: where a mirror's address is given, for the other failures' hints; `base_via`:
    how the user gives a base address, `{}` for it (`--base-url {}`, `VARIABLE={}`, `base_url={!r}`), to say what to
    run where an https address redirects to plain http.

    Returns (the full size the server announced or None, the offset the last transfer resumed from). An
    interrupted transfer, or one past its deadline, leaves `part` in place and raises a CycleGANError saying
    to run again; one over `bounds.max_bytes` deletes `part` (more of it cannot help).
    """
    shown = shown_address(url)
    # its size would be the offset to resume from, and each write would fail as a cut connection; the record's
    # folder failed the download at its end with a raw IsADirectoryError
    for path in (part, _validators_path(part)):
        if path.is_dir():
            raise CycleGANError(f"{path} is a folder, where the download of {shown} goes: move it away")
    for path in (part, _validators_path(part)):  # the bytes were appended to (the record written over) its target
        if path.is_symlink():
            raise CycleGANError(f"{path} is a symbolic link, where the download of {shown} goes: remove it")
    watchdog = _Watchdog(bounds.seconds)
    how = _Transfer(progress, timeout, bounds, watchdog, missing, mirror, base_via)
    try:
        for attempt in range(attempts):
            try:
                return _fetch_once(url, part, how)
            except _Interrupted as e:
                if watchdog.expired:
                    raise _too_slow(url, part, bounds) from None
                if attempt == attempts - 1:
                    raise CycleGANError(str(e)) from None
                print_warning(f"warning: {str(e).split(';')[0]}; resuming")
    finally:
        watchdog.stop()
    raise AssertionError("unreachable")


class _Interrupted(Exception):
    """A transfer that broke off after some bytes: it can resume."""


@dataclass(frozen=True)
class _Transfer:
    """How each of a download's transfers goes (`fetch`'s arguments, and its deadline's watchdog): one object, so
    that a transfer starting again from byte 0 (a different file on the server) is the same download."""

    progress: bool
    timeout: float
    bounds: Bounds
    watchdog: _Watchdog
    missing: str
    mirror: str
    base_via: str


def _too_slow(url: str, part: Path, bounds: Bounds) -> CycleGANError:
    shown = shown_address(url)
    got = part.stat().st_size if part.exists() else 0
    limit = f"{bounds.seconds / 60:g} minutes" if bounds.seconds >= 60 else f"{bounds.seconds:g} s"
    return CycleGANError(
        f"download of {shown} did not finish within {limit} ({bounds.seconds_from}); stopped after "
        f"{got} bytes, kept to resume: run again, or allow more time"
    )


def _too_big(url: str, part: Path, size: int, bounds: Bounds, *, announced: bool) -> CycleGANError:
    _discard(part)
    what = (
        f"the server announces {size} bytes, more than the {bounds.max_bytes} allowed"
        if announced
        else f"the server sent more than the {bounds.max_bytes} bytes allowed"
    )
    return CycleGANError(f"download of {shown_address(url)} refused: {what} ({bounds.bytes_from}); nothing was kept")


def _validators_path(part: Path) -> Path:
    """`PART.json`: what the server said of the file whose bytes `part` holds (ETag, Last-Modified, size)."""
    return part.with_name(part.name + ".json")


def _validators(headers, total: int | None) -> dict:
    return {"etag": headers.get("ETag"), "last_modified": headers.get("Last-Modified"), "total": total}


def _discard(part: Path) -> None:
    """Delete `part` and its record: the next bytes start a new file."""
    part.unlink(missing_ok=True)
    _validators_path(part).unlink(missing_ok=True)


def _changed(part: Path, headers, total: int | None) -> bool:
    """Whether the file on the server differs from the one `part` began as: an ETag, Last-Modified or size
    that both responses give and that differ. A `part` without that record (an older one) resumes as before."""
    try:
        saved = json.loads(_validators_path(part).read_text())
    except (OSError, ValueError):
        return False
    now = _validators(headers, total)
    return isinstance(saved, dict) and any(
        saved.get(k) is not None and now[k] is not None and saved[k] != now[k] for k in now
    )


def _http_error(url: str, e: urllib.error.HTTPError, missing: str, mirror: str, base_via: str) -> CycleGANError:
    shown = shown_address(url)
    if isinstance(e, _Downgrade):  # the words say what to run: the user's choice, made knowingly
        return CycleGANError(
            f"download of {shown} failed: HTTP {e.code}, {e.reason}, refused (anyone on the path could swap the file); "
            f"to accept plain http, run again with {base_via.format(shown_address(http_base(url)))}"
        )
    if e.code in REDIRECT_CODES:  # urllib's own text is three lines
        reason = "the server redirects in a loop or too many times" if "loop" in str(e.reason) else e.reason
        return CycleGANError(f"download of {shown} failed: HTTP {e.code}, {reason} (check the address or {mirror})")
    hint = f" (no such file there: {missing})" if e.code == 404 else ""
    return CycleGANError(f"download of {shown} failed: HTTP {e.code} {e.reason}{hint}")


def _fetch_once(url: str, part: Path, how: _Transfer) -> tuple[int | None, int]:
    """One transfer of `fetch`'s download; again from byte 0 (`how` unchanged) where `part` was discarded."""
    shown, bounds, watchdog, mirror = shown_address(url), how.bounds, how.watchdog, how.mirror
    offset = part.stat().st_size if part.exists() else 0
    if bounds.max_bytes is not None and offset > bounds.max_bytes:
        raise _too_big(url, part, bounds.max_bytes, bounds, announced=False)
    try:
        resp = _open(url, offset, timeout=how.timeout, watchdog=watchdog)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:  # nothing left to send: complete already, or a different file
            _, total = _content_range(e.headers.get("Content-Range"))
            if total == offset:
                _validators_path(part).unlink(missing_ok=True)
                return total, offset
            _discard(part)
            return _fetch_once(url, part, how)
        raise _http_error(url, e, how.missing, mirror, how.base_via) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        if watchdog.expired:
            raise _Interrupted("deadline") from None
        reason = getattr(e, "reason", e)
        raise CycleGANError(
            f"cannot reach {shown}: {reason} (check the network, or give a mirror's address in {mirror})"
        ) from None

    start, total = _content_range(resp.headers.get("Content-Range"))
    if resp.status == 206 and start != offset:  # other bytes than asked: appended, they make neither file
        resp.close()
        sent = f"from byte {start}" if start is not None else "a part without a readable Content-Range"
        if not offset:  # the whole file was asked: starting again would ask the same
            raise CycleGANError(
                f"download of {shown} failed: the server sent {sent} when the whole file was asked (HTTP 206); "
                f"try again later, or give a mirror's address in {mirror}"
            )
        print_warning(f"warning: {shown} sent {sent} when byte {offset} was asked; starting again from byte 0")
        _discard(part)
        return _fetch_once(url, part, how)
    resuming = offset and resp.status == 206
    if resuming and _changed(part, resp.headers, total):  # its rest appended to our start: neither file
        resp.close()
        print_warning(f"warning: {shown} changed on the server since the interrupted download; starting again")
        _discard(part)
        return _fetch_once(url, part, how)
    with resp:
        record = None  # what the server says of a new file, kept beside its first bytes (`_changed`)
        if resuming:
            mode = "ab"
        else:  # the server sent the whole file (it ignored Range, or there was nothing to resume)
            offset, mode = 0, "wb"
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            record = json.dumps(_validators(resp.headers, total))
        if bounds.max_bytes is not None and total is not None and total > bounds.max_bytes:
            raise _too_big(url, part, total, bounds, announced=True)
        done = offset
        name = part.name.removeprefix(".").removesuffix(".part")
        # in a log file, a line each tenth of the bytes and the size at the end, not tqdm's carriage returns
        bar = progress_bar(
            total,
            name,
            initial=offset,
            unit="B",
            enabled=how.progress,
            unit_scale=True,
            unit_divisor=1024,
            dynamic_ncols=True,
        )
        try:
            flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "ab" else os.O_TRUNC)
            with open(os.open(part, flags | getattr(os, "O_NOFOLLOW", 0), 0o666), mode) as f, bar:
                while chunk := resp.read1(CHUNK):  # read1: what has arrived, so the loop sees every byte
                    done += len(chunk)
                    if bounds.max_bytes is not None and done > bounds.max_bytes:
                        break
                    f.write(chunk)
                    bar.update(len(chunk))
                    if record is not None:  # not before: with no bytes there is nothing to resume, nor to record
                        with contextlib.suppress(OSError):  # without it, a resume is not checked for a change
                            write_atomic(_validators_path(part), lambda tmp, text=record: Path(tmp).write_text(text))
                        record = None
            if bounds.max_bytes is not None and done > bounds.max_bytes:
                raise _too_big(url, part, bounds.max_bytes, bounds, announced=False)
            if watchdog.expired:  # the shut connection ended the body early, announced size or not
                raise _Interrupted("deadline")
            if total is not None and done < total:  # read(n) returns b"" when the server hangs up early
                raise http.client.IncompleteRead(b"", total - done)
        except (http.client.IncompleteRead, OSError) as e:  # OSError: connection reset, timeout, disk full
            of = f" of {total}" if total else ""
            reason = getattr(e, "strerror", None) or type(e).__name__
            if getattr(e, "errno", None) in LOCAL_ERRNOS:  # this disk, not the connection: another attempt cannot help
                kept = part.stat().st_size if part.is_file() else 0
                raise CycleGANError(
                    f"cannot write {part}: {reason}; its {kept}{of} bytes of {shown} are kept: make room and run the "
                    "same command again to resume"
                ) from None
            raise _Interrupted(
                f"download of {shown} stopped after {done}{of} bytes ({reason}); run the same command again to resume"
            ) from None
    _validators_path(part).unlink(missing_ok=True)  # complete: nothing left to resume
    return total, offset
