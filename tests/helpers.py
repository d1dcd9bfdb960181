"""Helpers several test files share: a loopback HTTP server with Range requests, the torchrun launcher, and
small evaluation data and checkpoints. (Fixtures and the tiny training setup are in `conftest.py`.)"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cyclegan.checkpoint import FORMAT
from cyclegan.config import resolve
from cyclegan.models import ResnetGenerator, build_models

# --- a loopback HTTP server --------------------------------------------------------------------------------


class RangeServer(ThreadingHTTPServer):
    """Files held in memory, served on 127.0.0.1 (no network beyond it) with `Range: bytes=N-` requests
    answered 206 (or 416 past the end), as the mirrors of datasets and pretrained models answer them.

    `files` maps a URL path ("/models/x.pth") to its bytes; `requests` lists (path, Range header) of every
    GET; `honour_range` False: a server that ignores Range and sends everything (200); `cut[path] = n`: the
    next response for `path` sends n bytes of its body, then the connection drops.

    Hostile mirrors: `endless` paths answer 200 with no Content-Length and send the file followed by zeros
    until the client hangs up; `drip[path] = s` sends the body one byte every s seconds; `short[path] = n`
    sends n bytes of the body with no Content-Length, then closes (a short file that looks complete);
    `redirect[path] = other` answers 302 to `other` (a path on this server; two that point at each other
    make a loop); `range_start[path] = n` answers a Range request with 206 from byte n, whatever was asked (a
    mirror's broken cache).
    """

    daemon_threads = True

    def __init__(self, prefix: str = "") -> None:
        super().__init__(("127.0.0.1", 0), _RangeHandler)
        self.prefix = prefix
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.honour_range = True
        self.cut: dict[str, int] = {}
        self.endless: set[str] = set()
        self.drip: dict[str, float] = {}
        self.short: dict[str, int] = {}
        self.redirect: dict[str, str] = {}
        self.range_start: dict[str, int] = {}
        self.stopping = threading.Event()  # set when the test's `serving` block ends: endless bodies stop

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT followed by `prefix`."""
        return f"http://127.0.0.1:{self.server_address[1]}{self.prefix}"


class _RangeHandler(BaseHTTPRequestHandler):
    server: RangeServer

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        srv = self.server
        rng = self.headers.get("Range")
        srv.requests.append((self.path, rng))
        if self.path in srv.redirect:
            self.send_response(302)
            self.send_header("Location", srv.redirect[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path in srv.short:
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            self.wfile.write(srv.files[self.path][: srv.short[self.path]])
            return
        if self.path in srv.endless or self.path in srv.drip:
            self._hostile(srv.files.get(self.path, b""))
            return
        data = srv.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        if rng and srv.honour_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1))
            start = srv.range_start.get(self.path, start)
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()[:16]}"')  # as real mirrors send
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = srv.cut.pop(self.path, None)
        if cut is not None:  # announce everything, send part of it, drop the connection
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body)

    def _hostile(self, data: bytes) -> None:
        """An endless body (the file, then zeros) or a dripping one (a byte at a time), until the client
        hangs up or the server stops."""
        srv = self.server
        delay = srv.drip.get(self.path)
        self.send_response(200)
        if delay is not None:
            self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            if delay is not None:
                for i in range(len(data)):
                    if srv.stopping.is_set():
                        return
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
                    time.sleep(delay)
                return
            self.wfile.write(data)
            zeros = bytes(1 << 16)
            while not srv.stopping.is_set():
                self.wfile.write(zeros)
        except OSError:  # the client hung up: what a bounded download does
            pass

    def log_message(self, *args) -> None:  # keep test output clean
        pass


@contextlib.contextmanager
def serving(server: RangeServer) -> Iterator[RangeServer]:
    """`server` answering in a thread of its own until the block ends."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()


# --- processes -------------------------------------------------------------------------------------------


def joined(*threads: threading.Thread, within: float = 120) -> None:
    """Wait for a test's `threads` (daemon threads, so one stuck cannot hold up the interpreter's exit), at most
    `within` seconds: a thread waiting for ever on a lock failed nothing, and the whole suite hung there. Fails
    naming the threads still running, with every thread's stack."""
    import faulthandler

    deadline = time.monotonic() + within
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    if stuck := [t.name for t in threads if t.is_alive()]:
        faulthandler.dump_traceback(all_threads=True)
        raise AssertionError(f"still running after {within:.0f} s (stacks above): {', '.join(stuck)}")


def flags(options: dict) -> list[str]:
    """{"batch_size": 2} -> ["--batch-size", "2"]."""
    return [x for k, v in options.items() for x in (f"--{k.replace('_', '-')}", str(v))]


def run_cyclegan(
    args: list[str], *, nproc: int, ok: bool = True, script: Path | None = None
) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc_per_node N -m cyclegan ...` (or plain `python -m cyclegan` for 1); `script`:
    a file run in place of `-m cyclegan` (one that patches the package, then calls `cli.main`)."""
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"] if nproc > 1 else []
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    program = [str(script)] if script is not None else ["-m", "cyclegan"]
    p = subprocess.run(
        [sys.executable, *launcher, *program, *args], env=env, capture_output=True, text=True, timeout=300
    )
    if ok:
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


# --- evaluation data and a checkpoint ------------------------------------------------------------------------


def smooth_image(rng: np.random.Generator, size: int) -> np.ndarray:
    """Low-frequency colour blobs (H, W, 3) uint8: a 'landscape' domain."""
    base = rng.integers(30, 220, (4, 4, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(base).resize((size, size), Image.Resampling.BICUBIC))


def stripe_image(rng: np.random.Generator, size: int) -> np.ndarray:
    """High-contrast black and white stripes of random frequency and angle: a 'zebra' domain."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    angle, period = rng.uniform(0, np.pi), rng.uniform(4, 10)
    v = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period) > 0
    return np.repeat((v * 255).astype(np.uint8)[..., None], 3, axis=2)


def write_split(root: Path, n: int, *, paired: bool) -> None:
    """testA: smooth images, testB: stripes; paired: the same file names in both (aligned truth)."""
    rng = np.random.default_rng(0)
    for letter, make in (("A", smooth_image), ("B", stripe_image)):
        (root / f"test{letter}").mkdir(parents=True)
        for i in range(n):
            name = f"scene_{i:02d}.png" if paired else f"{letter.lower()}_{i:02d}.png"
            Image.fromarray(make(rng, 40)).save(root / f"test{letter}" / name)


def tiny_evaluation(tmp_path: Path, n: int = 2, *, paired: bool = True) -> tuple[Path, Path]:
    """What `cyclegan evaluate` tests score: a tiny checkpoint (tmp_path/tiny.pt) and a test split of `n` images
    per domain (tmp_path/data: `write_split`)."""
    write_split(tmp_path / "data", n, paired=paired)
    return save_tiny_checkpoint(tmp_path / "tiny.pt"), tmp_path / "data"


def evaluate_args(checkpoint: Path, data: Path, *more: str) -> list[str]:
    """`cyclegan evaluate`'s command line (for `cli.main`) of `checkpoint` on `data`, with `more`, no progress bar."""
    return ["evaluate", "--checkpoint", str(checkpoint), "--data", str(data), *more, "--no-progress"]


def save_tiny_checkpoint(path: Path) -> Path:
    """A checkpoint in the training format of a tiny paper-preset model (untrained, fixed seed)."""
    cfg = resolve({"ngf": 8, "ndf": 8, "n_blocks": 1, "size": 32})
    torch.manual_seed(0)
    models = build_models(cfg.model)
    torch.save(
        {
            "format": FORMAT,
            "config": cfg.to_dict(),
            "step": 7,
            "models": {k: m.state_dict() for k, m in models.items()},
        },
        path,
    )
    return path


def save_ema_checkpoint(path: Path, step: int = 120) -> Path:
    """A checkpoint of a tiny untrained model (fixed seed) keeping averaged weights (--ema-decay) beside its last ones,
    each averaged weight 0.01 from the last: `--ema on` and `--ema off` translate differently."""
    cfg = resolve({"ngf": 8, "n_blocks": 1, "size": 32})
    torch.manual_seed(0)
    models = {k: m.state_dict() for k, m in build_models(cfg.model).items()}
    ema = {k: {n: t + 0.01 for n, t in models[k].items()} for k in ("G", "F")}
    torch.save({"format": FORMAT, "config": cfg.to_dict(), "step": step, "models": models, "ema": ema}, path)
    return path


def tiny_published_generator(seed: int = 0) -> torch.nn.Module:
    """A generator of the published files' kind (the reference's ResNet, InstanceNorm), tiny: 2 blocks of 8 filters,
    the architecture the tests take the catalogue's to be (`conftest.tiny_published_architecture`)."""
    torch.manual_seed(seed)
    return ResnetGenerator(ngf=8, n_blocks=2).eval()


def zip_bomb(valid: Path, out: Path, *, inflate: int, entry: str = "data.pkl") -> Path:
    """A copy of the torch zip file `valid` whose `entry` (its data.pkl, or a tensor's storage such as
    "data/0") is that entry's bytes followed by zeros up to `inflate` bytes, deflated: a file barely larger
    than `valid` that expands to `inflate` (torch would load the data.pkl bomb: the pickle stops before
    the zeros)."""
    block = bytes(1 << 20)
    with zipfile.ZipFile(valid) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if not info.filename.endswith(entry):
                dst.writestr(info.filename, data)
                continue
            bomb = zipfile.ZipInfo(info.filename)
            bomb.compress_type = zipfile.ZIP_DEFLATED
            with dst.open(bomb, "w", force_zip64=True) as f:
                f.write(data)
                for left in range(inflate - len(data), 0, -len(block)):
                    f.write(block[: min(left, len(block))])
    return out


def translate_one_image(tmp_path: Path, checkpoint: str) -> int:
    """`cyclegan translate --checkpoint CHECKPOINT` of one 8x8 image into tmp_path/o: its exit status."""
    from cyclegan.cli import main

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    return main(["translate", "--checkpoint", checkpoint, "--out", str(tmp_path / "o"), str(tmp_path / "a.png")])


def cli_signalled_at(module: str, function: str, signum: str, argv: list[str]) -> subprocess.CompletedProcess:
    """`cyclegan ARGV` in a child process that sends itself `signum` ("SIGTERM", "SIGHUP") when `module.function`
    is first called (the work about to start), SIGHUP at its default as in a terminal (even where the tests run
    under nohup): how the commands' stops on a scheduler's SIGTERM or a closed terminal are tested."""
    script = f"""
import importlib, os, signal, sys
from cyclegan.cli import main
signal.signal(signal.SIGHUP, signal.SIG_DFL)
module = importlib.import_module({module!r})
real = getattr(module, {function!r})
def signalled(*a, **k):
    os.kill(os.getpid(), signal.{signum})
    return real(*a, **k)
setattr(module, {function!r}, signalled)
sys.exit(main({argv!r}))
"""
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)


def check_file_claim(args: list[str], out: Path, capsys) -> None:
    """`cyclegan ARGS` writes `out` under a lock on its name (`files.claim_file`: export, stylize): a killed run's
    temporary beside it (`.NAME.XXXXXXXX.tmp`) is removed, another file's kept, no lock file left; while another
    process holds the name, a second run is refused in one line naming it."""
    from cyclegan.cli import main
    from cyclegan.files import FolderLock

    killed, other = out.parent / f".{out.name}.k3x_9q2z.tmp", out.parent / ".other.k3x_9q2z.tmp"
    for f in (killed, other):
        f.write_bytes(b"half a file")
    assert main(args) == 0
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([other.name, out.name])  # no lock file left
    busy = FolderLock(out.parent, f".{out.name}.lock")  # another run of that file at work
    assert busy.acquire()
    try:
        assert main([*args, "--overwrite"]) == 2
        assert f"option '--out': {out} is being written by another run (PID {os.getpid()});" in capsys.readouterr().err
    finally:
        busy.release()


def copied_back(monkeypatch) -> list[tuple[torch.dtype, tuple[int, ...]]]:
    """(dtype, shape) of every tensor copied to the CPU by `Tensor.cpu`, in order, from now on: what would cross a
    GPU's PCIe link back (on the CPU each is a no-op, recorded all the same)."""
    seen, cpu = [], torch.Tensor.cpu

    def recording(self, *args, **kwargs):
        seen.append((self.dtype, tuple(self.shape)))
        return cpu(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "cpu", recording)
    return seen


def handed_to_a_device(monkeypatch) -> list[tuple[torch.dtype, tuple[int, ...]]]:
    """(dtype, shape) of every tensor handed to `Tensor.to` with a device, in order, from now on: what would
    cross a GPU's PCIe link (on the CPU each is a no-op, recorded all the same)."""
    seen, to = [], torch.Tensor.to

    def recording(self, *args, **kwargs):
        if any(isinstance(a, torch.device) for a in (*args, *kwargs.values())):
            seen.append((self.dtype, tuple(self.shape)))
        return to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", recording)
    return seen


def unwritable_stderrs() -> tuple[io.StringIO, None]:
    """The stderrs a library caller may leave the package: a closed stream (its `sys.stderr.close()`) and None
    (pythonw, a service), each for `monkeypatch.setattr(sys, "stderr", stream)`."""
    closed = io.StringIO()
    closed.close()
    return closed, None
