"""`cyclegan serve`: the launch of the web page (its options are `cyclegan.web.options`, the page itself
`cyclegan.web.app`).

This module imports neither torch nor gradio, so `cyclegan serve --help` is instant and the server answers
within seconds: gradio is imported when the page is built, torch and the models on first use.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import shutil
import socket
import tempfile
from pathlib import Path

from ..errors import CycleGANError, install_extra
from ..process import Terminated, Termination, terminate_as_interrupt
from ..progress import print_warning
from .options import ServeOptions, bare_host
from .runs import check_checkpoint_files

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def is_public(host: str) -> bool:
    """Whether listening on `host` lets other machines connect (anything but a loopback address)."""
    host = bare_host(host)
    if host in LOCAL_HOSTS:
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost: assume it is reachable
        return True


def check_listen(host: str, port: int) -> None:
    """Refuse, in one line saying why, an address this machine cannot listen on: Gradio's failure was a line
    of its server's log and then a guess ("the port is in use, or HOST is not an address of this machine")."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            bare_host(host), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as e:
        raise CycleGANError(
            f"option '--host': cannot resolve {host} ({e.strerror}); give a name or address of this machine"
        ) from None
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: a port in TIME_WAIT is free
        try:
            s.bind(address)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise CycleGANError(
                    f"cannot listen on {host}:{port}: the port is in use; choose another with --port"
                ) from None
            raise CycleGANError(
                f"cannot listen on {host}:{port}: {e.strerror}; give an address of this machine with --host"
            ) from None


def offline_environment() -> None:
    """Settings Gradio reads at import: no analytics or version check (the page works offline), no
    server-side rendering process (node), no telemetry of the page."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("GRADIO_SSR_MODE", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("GRADIO_MCP_SERVER", "False")


def serve(opts: ServeOptions, *, block: bool = True):
    """Build the page for `opts` and serve it at http://HOST:PORT/ until Ctrl-C, SIGTERM or SIGHUP, which stop the
    server, remove its folder and go on as KeyboardInterrupt (`process.Terminated` for the two signals, from the
    call's start, while the page is built too) (`block=False`: return the gradio Blocks, running in the background;
    `.close()` stops it; the signals are the caller's). Models load on first use."""
    # Over the whole call, not only Gradio's launch: a SIGTERM while gradio imported and the page was built
    # (seconds) killed the process without a word, its folder left behind.
    with terminate_as_interrupt(hangup=True) if block else contextlib.nullcontext(Termination()) as stop:
        try:
            return _serve(opts, block=block)
        except BaseException as e:
            # Once a signal came, whatever leaves is its stop: raised where the main thread was in Gradio's launch
            # or close, a clean-up there that failed as it unwound carried its own error out, the stop its context
            if stop.signum is None or isinstance(e, Terminated):
                raise
            raise Terminated(stop.signum) from e


def _serve(opts: ServeOptions, *, block: bool) -> object:
    """`serve`'s body, under its signal handlers."""
    # Checked here rather than by the dataclass, so ServeOptions() can be built and checked field by field.
    if not opts.runs and not opts.checkpoint:
        raise CycleGANError(
            "give --runs DIR and/or --checkpoint FILE: the page can only use models the server was started with"
        )
    if not opts.host.strip():  # Gradio took an empty one for 127.0.0.1, after a warning that it was public
        raise CycleGANError("option '--host' is empty: give an address, such as 127.0.0.1 (this machine only)")
    for d in opts.runs or ():
        if not Path(d).is_dir():
            raise CycleGANError(f"option '--runs': {d} is not a folder")
    files = check_checkpoint_files(opts.checkpoint or ())  # a wrong path fails now, in one line
    check_listen(opts.host, opts.port)
    if opts.device not in ("auto", "cpu"):  # named by the operator: checked now (torch), not by a visitor's first job
        from ..execution import resolve_device

        resolve_device(opts.device)  # `--device cuda` without a GPU started a page where every job failed
    if is_public(opts.host):
        print_warning(
            f"warning: listening on {opts.host}: anyone who can reach this machine can use the page and its "
            "models (there is no login); use --host 127.0.0.1 to keep it local"
        )
    offline_environment()
    # One private folder per server: Gradio's uploads and cache (so the page serves no other app's files), the
    # outputs, copies of sample grids; removed when the server stops.
    work = Path(tempfile.mkdtemp(prefix="cyclegan-serve-"))
    os.environ.setdefault("GRADIO_TEMP_DIR", str(work / "gradio"))
    try:
        # Imported only now: gradio is optional, and it reads the settings above when it is imported.
        try:
            import gradio  # noqa: F401
        except ImportError:
            raise CycleGANError("cyclegan serve needs gradio: " + install_extra("web")) from None
        from .app import build_app, launch  # gradio and the page, after the checks above (a --help stays instant)

        app = build_app(opts, files, work)
        try:
            launch(app, opts, block=block)
        except OSError as e:
            if "Cannot find empty port" not in str(e):
                raise
            # Gradio's words both for a port taken since `check_listen` and for a server that took over its 5 s
            # to start (a busy machine), said as "the port is in use" though it was free: the port tells them apart
            check_listen(opts.host, opts.port)
            raise CycleGANError(
                f"the server on {opts.host}:{opts.port} did not start within Gradio's 5 seconds (the port is "
                "free: the machine is busy); try again"
            ) from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if block:
        shutil.rmtree(work, ignore_errors=True)
    return app
