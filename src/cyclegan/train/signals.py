"""Stopping cleanly: the first Ctrl-C, SIGTERM or SIGHUP asks the loop to save and stop after the current step;
data loading workers leave them to the main process. A wait that may hang ends at one deadline (`time_limited`)."""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import multiprocessing.util  # registers its exit handler first: ours (`_end_workers`, LIFO) then runs before it
import os
import signal
import sys
import threading
from collections.abc import Iterator

from ..process import stops_the_process
from ..progress import print_line

_HANGUP = (signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()  # not on Windows
_ALARM = (signal.SIGALRM,) if hasattr(signal, "setitimer") else ()  # a wait's deadline; not on Windows
_LONGEST_ALARM = 1e9  # seconds (31 years): a longer deadline ends no wait, and past time_t's range is an error


def worker_init(_: int) -> None:
    # Workers are forked with the main process's handlers. Ctrl-C and a hang-up go to the whole process group,
    # and so does SIGTERM from a batch scheduler (Slurm) or `kill -- -PGID`: only the main process handles them
    # (saves, then ends its workers). A worker SIGTERM killed made the main process's wait for a batch a
    # RuntimeError traceback, the steps since the last checkpoint lost. A worker whose main process is gone exits.
    for s in (signal.SIGINT, signal.SIGTERM, *_HANGUP):
        signal.signal(s, signal.SIG_IGN)
    sys.excepthook = _quiet_when_the_reader_left


def _quiet_when_the_reader_left(kind, value, tb) -> None:
    """A worker's excepthook: the thread that hands a batch's shared memory to the main process (multiprocessing's
    resource sharer, which calls it) printed a ConnectionResetError traceback when the main process stopped
    mid-batch (a stop request ends its wait, then kills the workers). Any other error is shown as before."""
    if not issubclass(kind, ConnectionError):
        sys.__excepthook__(kind, value, tb)


def _end_workers() -> None:
    """At the interpreter's exit, kill the daemonic children still alive: loader workers whose loader was not shut
    down (an error's traceback held the training loop's frame). multiprocessing's own exit handler would end them
    with SIGTERM, which loader workers ignore (`worker_init`), then wait for them: the process never exited."""
    workers = [child for child in multiprocessing.active_children() if child.daemon]
    if workers and hasattr(signal, "SIGCHLD"):
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # torch's handler would call the killing a worker failure
    for child in workers:
        child.kill()
        child.join()


atexit.register(_end_workers)


def end_loader(batches: Iterator) -> None:
    """Shut a DataLoader's iterator down at once, its workers killed first: one stuck in a read (a stalled network
    file) held torch's own shutdown 5 s, then ignored its SIGTERM (`worker_init`) until the exit handler. SIGCHLD
    is at its default meanwhile: torch's handler would call the killing a worker failure. Outside the main thread
    (a run in a notebook's or a script's thread) torch sets no handler and none can be set: left as it is (it was a
    ValueError, the workers left alive)."""
    workers = [w for w in getattr(batches, "_workers", ()) if w.is_alive()]
    swap = workers and hasattr(signal, "SIGCHLD") and threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGCHLD, signal.SIG_DFL) if swap else None
    try:
        for w in workers:
            w.kill()
            w.join()
        shutdown = getattr(batches, "_shutdown_workers", None)  # what the iterator's deletion would call
        if shutdown is not None:
            shutdown()
    finally:
        if old is not None:
            signal.signal(signal.SIGCHLD, old)


class StopWaiting(BaseException):
    """A stop request that came while the main process waited for a batch (`StopRequest.waiting`): not an error, so
    not an Exception (the loader's own `except Exception` would handle it)."""


class TimeUp(BaseException):
    """The time limit passed during a wait `time_limited` bounds (the check of the images before training): not an
    Exception, so that a reader's own `except Exception` does not take it for an unreadable image."""


def _alarm_free() -> bool:
    """Whether SIGALRM may be ours: the main thread, its handler the default, no timer of a caller's counting."""
    return (
        bool(_ALARM)
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
        and not any(signal.getitimer(signal.ITIMER_REAL))
    )


class Deadline:
    """A `time_limited` block's deadline; `rang`: whether its alarm raised in the block."""

    rang = False


@contextlib.contextmanager
def time_limited(seconds: float | None, up: type[BaseException] = TimeUp) -> Iterator[Deadline]:
    """Raise `up` in the block once `seconds` have passed: the one deadline of a wait that may hang (a stalled
    network file), the check before training's (`TimeUp`) and each wait for a batch's (`StopRequest.waiting`). An
    alarm where one is free (`_alarm_free`: a caller's watchdog is neither replaced nor cancelled), else none; None
    or a deadline past any wait (`_LONGEST_ALARM`: past time_t's range setitimer raised OverflowError) sets none. An
    alarm that rings as the block ends (the wait over) or in a forked child raises nothing."""
    deadline = Deadline()
    if seconds is None or seconds >= _LONGEST_ALARM or not _alarm_free():
        yield deadline
        return
    pid, armed = os.getpid(), [True]

    def ring(signum, frame) -> None:
        if armed[0] and os.getpid() == pid:
            armed[0] = False
            deadline.rang = True
            raise up

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3))  # a deadline already past ends the wait at once
    try:
        yield deadline
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class StopRequest:
    """Turns the first SIGINT/SIGTERM (or SIGHUP: the terminal closed, an ssh session dropped) into a graceful stop
    after the current step; a second Ctrl-C aborts."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.doing = "saving the checkpoint after this step"  # what the first request's line says comes next
        self._old = {}
        self._waiting = False

    def _handle(self, signum, frame) -> None:
        if os.getpid() != self._pid:  # a forked child that inherited the handler: not ours to save
            raise SystemExit(128 + signum)
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum
        try:
            print_line(  # a line of its own, below the ^C the terminal echoed
                "",
                f"{signal.Signals(signum).name} received: {self.doing}... "
                "(Ctrl-C again stops at once, keeping the last saved checkpoint)",
            )
        except OSError:  # a terminal that hung up: the save matters, not the line
            pass
        if self._waiting:
            self._waiting = False
            raise StopWaiting

    @contextlib.contextmanager
    def waiting(self, *, within: float | None = None) -> Iterator[Deadline]:
        """A wait the first stop request ends (`StopWaiting`), as the second Ctrl-C ends any: the wait for a batch,
        which a loader worker stuck in a read (a stalled network file) made endless, the stop never heard.
        `within`: the seconds left before a deadline (--time-limit) that ends the wait too (`time_limited`)."""
        with time_limited(within, StopWaiting) as deadline:
            self._waiting = True
            try:
                yield deadline
            finally:
                self._waiting = False

    def __enter__(self) -> StopRequest:
        self._pid = os.getpid()
        # SIGHUP only where it would end the run (killed, or stopped at once by `cyclegan demo`'s and `train`'s
        # `terminate_as_interrupt`: the steps since the last checkpoint lost): not under nohup, which ignores it
        hangup = [s for s in _HANGUP if stops_the_process(signal.getsignal(s))]
        for s in (signal.SIGINT, signal.SIGTERM, *hangup):
            try:
                self._old[s] = signal.signal(s, self._handle)
            except ValueError:  # not the main thread (e.g. inside a notebook worker): no handler
                pass
        return self

    def __exit__(self, *exc) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)
