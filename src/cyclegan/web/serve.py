"""`cyclegan serve`: the options and the launch of the web page (the page itself is `cyclegan.web.app`).

This module imports neither torch nor gradio, so `cyclegan serve --help` is instant and the server answers
within seconds: gradio is imported when the page is built, torch and the models on first use.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import CycleGANError
from ..options import Options, opt
from ..shared_options import device_option

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ServeOptions(Options):
    """`cyclegan serve`: which models and runs the page may use, where it listens, and its limits."""

    runs: tuple[str, ...] | None = opt(
        None, "folders holding runs of `cyclegan train` (searched 3 levels deep; new runs and checkpoints "
        "appear without a restart)", metavar="DIR", default_text="none",
    )  # fmt: skip
    checkpoint: tuple[str, ...] | None = opt(
        None, "checkpoint files, run folders or reference-implementation generator .pth files to offer",
        metavar="FILE", default_text="none",
    )  # fmt: skip
    examples: tuple[str, ...] | None = opt(
        None, "example images offered in Translate (files or folders)", metavar="IMG",
        default_text="four built-in summer/winter scenes",
    )  # fmt: skip
    host: str = opt("127.0.0.1", "address to listen on; anything but 127.0.0.1/localhost lets other machines in "
                    "(there is no login)", metavar="ADDR")  # fmt: skip
    port: int = opt(7860, "port to listen on", ge=1, le=65535)
    concurrency: int = opt(1, "heavy jobs (translate, stylise, compare) run at once; more wait in a queue", gt=0)
    max_upload_mb: float = opt(25.0, "largest image file accepted, in MB", gt=0)
    max_pixels: int = opt(25_000_000, "largest image accepted, in pixels (W x H)", gt=0)
    max_style_size: int = opt(1024, "largest long side the Style and Compare tabs offer, in px", ge=64)
    max_style_steps: int = opt(1000, "most Gatys steps the Style and Compare tabs offer", gt=0)
    refresh: float = opt(3.0, "seconds between refreshes of the Runs tab and the model list", gt=0)
    device: str = device_option()


def is_public(host: str) -> bool:
    """Whether listening on `host` lets other machines connect (anything but a loopback address)."""
    if host in LOCAL_HOSTS:
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost: assume it is reachable
        return True


def offline_environment() -> None:
    """Settings Gradio reads at import: no analytics or version check (the page works offline), no
    server-side rendering process (node), no telemetry of the page."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("GRADIO_SSR_MODE", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("GRADIO_MCP_SERVER", "False")


def serve(opts: ServeOptions, *, block: bool = True):
    """Build the page for `opts` and serve it at http://HOST:PORT/ until Ctrl-C (`block=False`: return the
    gradio Blocks, running in the background; `.close()` stops it). Models load on first use."""
    from .runs import check_checkpoint_files

    # Checked here rather than by the dataclass, so ServeOptions() can be built and checked field by field.
    if not opts.runs and not opts.checkpoint:
        raise CycleGANError("give --runs DIR and/or --checkpoint FILE: the page can only use models the server "
                            "was started with")  # fmt: skip
    for d in opts.runs or ():
        if not Path(d).is_dir():
            raise CycleGANError(f"option '--runs': {d} is not a folder")
    files = check_checkpoint_files(opts.checkpoint or ())  # a wrong path fails now, in one line
    if is_public(opts.host):
        print(f"warning: listening on {opts.host}: anyone who can reach this machine can use the page and its "
              "models (there is no login); use --host 127.0.0.1 to keep it local", file=sys.stderr)  # fmt: skip
    offline_environment()
    # One private folder per server: Gradio's uploads and cache (so the page serves no other app's files), the
    # outputs, copies of sample grids; removed when the server stops.
    work = Path(tempfile.mkdtemp(prefix="cyclegan-serve-"))
    os.environ.setdefault("GRADIO_TEMP_DIR", str(work / "gradio"))
    try:
        try:
            import gradio  # noqa: F401
        except ImportError:
            raise CycleGANError("cyclegan serve needs gradio: pip install 'cyclegan[web]'") from None
        from .app import build_app, launch

        app = build_app(opts, files, work)
        if block and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the server as Ctrl-C does, cleaning up
        launch(app, opts, block=block)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if block:
        shutil.rmtree(work, ignore_errors=True)
    return app


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
