"""Settings of the whole process, made by the command line before any work (and before torch is imported: this
module does not import it)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass


def set_openmp_wait_policy() -> None:
    """On a busy CPU, let idle OpenMP threads sleep instead of spin; on an idle one, keep spinning.

    Spinning threads steal the core from the thread they wait for when other processes are running: at
    load 4 on 2 cores a demo step took 1.12 s spinning and 0.46 s passive (stylize: 227 s vs 28 s at load
    8). On an idle machine passive waits cost instead: stylize 21.0 s vs 12.7 s. Decided from the load
    average; an OMP_WAIT_POLICY already set wins. Takes effect only before torch is imported (the commands
    import it lazily).
    """
    try:
        busy = os.getloadavg()[0] > (os.cpu_count() or 1)  # more runnable processes than cores
    except OSError:  # not available on this platform
        busy = False
    if busy:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


# glibc's mallopt parameters: freed memory at the heap's top is returned to the OS above M_TRIM_THRESHOLD; an
# allocation above M_MMAP_THRESHOLD gets pages of its own, unmapped when it is freed.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_kept = False


def keep_freed_memory() -> bool:
    """Have glibc's allocator keep freed memory for the next tensor instead of returning it to the OS: allocations
    up to 32 MB come from the heap (glibc's own limit for this setting) and up to 1 GiB of free memory stays mapped.
    By default glibc hands the memory of large freed tensors back and the next ones fault their pages in again,
    a few microseconds per 4 KiB page: a forward pass at 256-512 px on the CPU, whose activations are freed layer by
    layer, ran 1.05-1.16x faster so (`paper` generator, fp32, AVX2 and AVX-512, 2 threads); a training step 1.00x,
    so `cyclegan translate` asks for it and training does not (docs/results.md, "Translation and freed memory").
    The process's memory stays at its peak instead of shrinking between tensors.

    Once per process, before the work; a no-op returning False elsewhere than glibc on Linux, or where the user
    set glibc's malloc tunables (MALLOC_*_ environment variables or GLIBC_TUNABLES), which then win."""
    global _kept
    if _kept:
        return True
    user_set = any(k.startswith("MALLOC_") and k.endswith("_") for k in os.environ)
    if not sys.platform.startswith("linux") or user_set or "malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl and other C libraries: no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _kept = mallopt(_M_MMAP_THRESHOLD, 32 << 20) == 1 and mallopt(_M_TRIM_THRESHOLD, 1 << 30) == 1
    return _kept


def freed_memory_kept() -> bool:
    """Whether `keep_freed_memory` took effect in this process (recorded with each run's execution)."""
    return _kept


def stop_word(signum: int | None) -> str:
    """How a command's last line names its stop: a closed terminal's SIGHUP, a SIGTERM, or (None) a Ctrl-C."""
    if signum is None:
        return "interrupted"
    return "hung up" if signum == getattr(signal, "SIGHUP", None) else "terminated"


# The SIGTERMs and SIGHUPs `terminate_as_interrupt` turned into `Terminated`, in order: after a hangup the terminal is
# gone, so a command's last line to it fails, and `cli.main` still exits with the signal's status, not a write error's.
RECEIVED: list[int] = []


class Terminated(KeyboardInterrupt):
    """SIGTERM (or SIGHUP, where asked), raised where it arrives as Ctrl-C's KeyboardInterrupt is
    (`terminate_as_interrupt`); `status`: the exit status a shell reports for a process the signal ended."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__()
        self.signum = signum
        self.status = 128 + signum
        self.word = stop_word(signum)


@dataclass
class Termination:
    signum: int | None = None  # the SIGTERM or SIGHUP that came, if one did

    @property
    def word(self) -> str:
        """The stop as the last line says it: "terminated", "hung up", or "interrupted" (a Ctrl-C)."""
        return stop_word(self.signum)

    @property
    def status(self) -> int:
        """The exit status of a command that reports its own stop: 128 + the signal, 130 for a Ctrl-C."""
        return 130 if self.signum is None else 128 + self.signum


_STOPPING_HANDLERS: set = set()  # the handlers `terminate_as_interrupt` has set now


def stops_the_process(handler: object) -> bool:
    """Whether a signal whose handler is `handler` ends the command: its default action, or `terminate_as_interrupt`'s
    `Terminated`. Training's own handler (`train.signals.StopRequest`) takes such a signal over to save first; one
    ignored (a SIGHUP under nohup) or handled by a caller is left alone."""
    return handler is signal.SIG_DFL or handler in _STOPPING_HANDLERS


@contextlib.contextmanager
def terminate_as_interrupt(*, hangup: bool = False) -> Iterator[Termination]:
    """For the block, SIGTERM (a batch scheduler's stop, `kill`) raises `Terminated` in the main thread: by default it
    ended the process at once, without a word, leaving the file being written as a hidden temporary. Now what is
    being written is removed as on Ctrl-C and the command can say how to go on. `hangup`: SIGHUP too (the
    terminal closed, an ssh session dropped: every command that takes SIGTERM so), which killed the process the
    same way. Each signal is left alone off the main thread and where it is not at its default (ignored, as under
    nohup, or handled by the caller)."""
    seen = Termination()
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return

    def on_signal(signum, frame) -> None:
        seen.signum = signum
        RECEIVED.append(signum)
        raise Terminated(signum)

    _STOPPING_HANDLERS.add(on_signal)
    wanted = (signal.SIGTERM, *((signal.SIGHUP,) if hangup and hasattr(signal, "SIGHUP") else ()))
    old = {s: signal.getsignal(s) for s in wanted if signal.getsignal(s) == signal.SIG_DFL}
    for s in old:
        signal.signal(s, on_signal)
    try:
        yield seen
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        _STOPPING_HANDLERS.discard(on_signal)
