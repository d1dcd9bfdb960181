"""The disk the page's files take in Gradio's folder (uploads, the page's outputs): bounded, and swept.

Gradio bounds one upload (`max_file_size`) and deletes what it stored an hour later (`delete_cache`), but it
takes any number of uploads within that hour, and an upload cut off mid-way (the visitor closed the tab, or
a hostile client) left its partial file in the folder, in no list of Gradio's, for the server's life.
`UploadBudget` refuses an upload while the folder holds `--max-disk-mb` (and answers 404 for Gradio's endpoints
the page has no use for); `sweep` deletes partial uploads, the empty folders Gradio's clean-up leaves behind and
the page's outputs it was never handed. No torch and no gradio here (its server's starlette and anyio on use).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import stat
import threading
import time
from pathlib import Path

from .options import MB

_HEX = re.compile(r"[0-9a-f]{32,}")  # a folder Gradio or the page made for one upload, copy or job
# Gradio's endpoints the page has no use for, refused: /process_recording (a screen recording, which no control of
# the page makes) took a file of up to --max-upload-mb into the system's temporary folder and never deleted it.
UNUSED = ("/process_recording",)
WALK_EVERY_S = 2.0  # the folder's size is measured at most this often; uploads accepted since are added to it


def disk_usage(folder: str | Path) -> int:
    """Bytes `folder` takes on disk, its files and sub-folders (blocks allocated: a 1-byte file costs a block;
    links not followed); 0 if it does not exist."""
    total = 0
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            with contextlib.suppress(OSError):  # removed while we looked
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


def sweep(folder: str | Path, older_than_s: float, *, own: str | Path | None = None, now: float | None = None) -> None:
    """Delete what Gradio's hourly clean-up leaves in its `folder`, once unchanged for `older_than_s`: partial
    uploads (Gradio's temporary files `tmp*`, directly in the folder: a finished upload is moved into a
    sub-folder), empty sub-folders named in hex (Gradio's, one per upload or copy, named by its content's
    digest; the page's, one per job: `Engine.folder`) and every file in `own` (the page's outputs, inside
    `folder`: Gradio deletes only those it was handed, and a job that failed half way never handed over what
    it had written). Nothing else of the folder is touched."""
    now = time.time() if now is None else now
    folder, own = Path(folder), Path(own) if own is not None else None
    for root, dirs, files in os.walk(folder, topdown=False):
        here = Path(root)
        ours = own is not None and (here == own or own in here.parents)
        for name in files:
            path = here / name
            with contextlib.suppress(OSError):
                # a dot-name is a write in progress (`files.write_atomic`'s `.NAME.*.tmp`), not an output
                mine = ours and not name.startswith(".")
                if (mine or here == folder and name.startswith("tmp")) and _old(path, now, older_than_s):
                    path.unlink()
        for name in dirs:
            path = here / name
            with contextlib.suppress(OSError):  # not empty (rmdir refuses), or removed meanwhile
                if _HEX.fullmatch(name) and not path.is_symlink() and now - path.lstat().st_mtime > older_than_s:
                    path.rmdir()


def _old(path: Path, now: float, older_than_s: float) -> bool:
    """A regular file (not a link) unchanged for `older_than_s`."""
    st = path.lstat()
    return stat.S_ISREG(st.st_mode) and now - st.st_mtime > older_than_s


class UploadBudget:
    """ASGI middleware: Gradio's upload endpoint (POST .../upload) refused, with 413 and a line the page shows,
    while `folder` (Gradio's) holds `limit` bytes or would with the request's declared length; a request that
    declares no length (chunked) is refused with 411 (browsers declare it). The endpoints in UNUSED answer 404.
    Gradio's own refusal of a file over `file_limit` (413) is said in the page's words (`over_file_limit`).
    Everything else passes through."""

    def __init__(self, app, *, folder: str | Path, limit: int, file_limit: int | None = None):
        self.app, self.folder, self.limit, self.file_limit = app, Path(folder), limit, file_limit
        self._lock = threading.Lock()
        self._measured, self._measured_at, self._since = 0, float("-inf"), 0  # bytes, when, accepted since

    def used(self) -> int:
        """The folder's bytes on disk, measured at most every WALK_EVERY_S, plus the uploads accepted since."""
        with self._lock:
            if time.monotonic() - self._measured_at > WALK_EVERY_S:
                self._measured, self._measured_at, self._since = disk_usage(self.folder), time.monotonic(), 0
            return self._measured + self._since

    def admit(self, length: int) -> bool:
        """Whether an upload of `length` bytes fits; if so it is counted until the next measure."""
        used = self.used()
        with self._lock:
            if used + length > self.limit:
                return False
            self._since += length
            return True

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].rstrip("/").endswith(UNUSED):
            return await _refuse(send, 404, "not found")
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith("/upload"):
            return await self.app(scope, receive, send)
        import anyio  # a dependency of gradio's server

        length = dict(scope["headers"]).get(b"content-length")
        if length is None or not length.isdigit():
            return await _refuse(send, 411, "an upload must declare its length (Content-Length)")
        if not await anyio.to_thread.run_sync(self.admit, int(length)):
            return await _refuse(
                send,
                413,
                f"this server's upload space is full ({round(self.limit / MB, 3):g} MB, cyclegan serve --max-disk-mb): "
                "uploads are deleted an hour after they came; try again later",
            )
        from starlette.requests import ClientDisconnect  # gradio's server

        try:
            return await self.app(scope, receive, self._reworded(send))
        except ClientDisconnect:  # the visitor left mid-upload: no error of the server's (`sweep` deletes the part)
            return None

    def _reworded(self, send):
        """`send` with Gradio's 413 for a file over `file_limit` ("File size exceeded maximum allowed size of 26214400
        bytes.") answered as `over_file_limit` says it."""
        if self.file_limit is None:
            return send
        refused = False

        async def reworded(message) -> None:
            nonlocal refused
            if message["type"] == "http.response.start" and message["status"] == 413:
                refused = True
                return await _refuse(send, 413, over_file_limit(self.file_limit))
            if not refused:  # the rest of Gradio's refusal: ours was sent whole
                await send(message)

        return reworded


def over_file_limit(limit: int) -> str:
    """The page's line for an upload over `limit` bytes (--max-upload-mb): the server refuses it, not the page. The
    page's own refusal ("File(s) exceed the maximum allowed size of 25.0 Mb: NAME") put the file's name in the page
    as HTML, so a file named `<img src=https:HOST>.png` drew an image fetched from another host (`app.launch` turns
    it off); Gradio's server said the limit in bytes."""
    return (
        f"that file is over this server's limit of {round(limit / MB, 3):g} MB per upload (cyclegan serve "
        "--max-upload-mb); upload a smaller one"
    )


async def _refuse(send, status: int, message: str) -> None:
    body = message.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def sweeping(folder: str | Path, every_s: float, older_than_s: float, *, own: str | Path | None = None):
    """A lifespan for the server's app (Gradio's `app_kwargs`): `sweep(folder, older_than_s, own=own)` every
    `every_s` seconds while it serves, in a worker thread."""
    import asyncio

    import anyio

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        async def loop() -> None:
            while True:
                await asyncio.sleep(every_s)
                await anyio.to_thread.run_sync(functools.partial(sweep, folder, older_than_s, own=own))

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return lifespan
