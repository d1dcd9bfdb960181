"""Progress on stderr: a tqdm bar on a terminal, plain lines elsewhere (a log file, a batch job, CI).

Where stderr is no terminal, tqdm's bar is one line of carriage returns that grows for the whole run (tens of MB
for a long training, unreadable with `less` or a job scheduler's log viewer). `Lines` stands in for it there: a
line every tenth of the work (or every `every` units the caller names) and at least every LINE_EVERY_S seconds,
with the values the caller names from `set_postfix` and the time left. `tqdm.write` prints above a bar and plainly
without one, so warnings keep working in both modes. A download's bytes (`unit="B"`) are said as sizes.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TextIO

from tqdm import tqdm

from .errors import byte_size, escape

LINE_EVERY_S = 60.0  # a log file's progress line at least this often, besides every tenth of the work


class Lines:
    """The progress bar's stand-in where stderr is no terminal. Same calls as the bar: `update`, `set_postfix`,
    `total` (settable: None while unknown), `refresh`, `close`, iteration over `iterable`.

    `unit`: the count word ("step 40/200"); "B": bytes, said as sizes ("12 MiB of 100 MiB"). `shown`: the
    postfix keys a line says and the word for each (`{"total": "loss"}`); None says every value under its own
    key. `every`: a line each `every` units (default a tenth of the total; with no total, by the clock alone, and
    the count once more at the end). `by_clock`: by the clock alone (a bar nested under another's: a slow
    image's tiles said every LINE_EVERY_S, a quick one's not at all)."""

    disable = False  # read like a bar's: "is progress shown?" (translate passes it to the tiles' bar)

    def __init__(
        self,
        total: int | None,
        desc: str,
        *,
        unit: str = "step",
        initial: int = 0,
        every: int | None = None,
        shown: Mapping[str, str] | None = None,
        iterable: Iterable | None = None,
        by_clock: bool = False,
    ) -> None:
        self.desc, self.unit, self.n, self.fixed_every = desc, unit, initial, every
        self.start_n, self.shown, self.iterable, self.by_clock = initial, shown, iterable, by_clock
        self.start = self.said = time.perf_counter()
        self.said_n = initial  # the count the last line said: `close` says the end only where no line did
        self.said_what: tuple[str, bool] | None = None  # the last line's `what`: a tenth said as it was is not again
        self.postfix: dict[str, str] = {}
        self._total: int | None = None
        self.total = total

    @property
    def total(self) -> int | None:
        return self._total

    @total.setter
    def total(self, value: int | None) -> None:  # training's steps fitted to its time limit: known late
        self._total = value
        tenth = math.ceil(value / 10) if value else 0
        self.every = 0 if self.by_clock else self.fixed_every or tenth  # 0: by the clock alone

    def __enter__(self) -> Lines:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is None:  # a failure's own message says where it stopped
            self.close()

    def __iter__(self) -> Iterator:
        for item in self.iterable or ():
            yield item
            self.update(1)

    def refresh(self) -> None:
        return None

    def close(self) -> None:
        """With no total, no tenth ever came: the end is said here (a download whose server sent no size)."""
        if self.total is None and not self.by_clock and self.n != self.said_n:
            self.say(time.perf_counter())

    def set_postfix(self, postfix: Mapping[str, Any] | None = None, refresh: bool = False, **kwargs: Any) -> None:
        self.postfix = {k: str(v) for k, v in {**(postfix or {}), **kwargs}.items()}

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.perf_counter()
        # crossed a multiple of `every` (a batch's images may step over it) or reached the end
        on_count = self.every and (self.n // self.every > (self.n - n) // self.every or self.n == self.total)
        by_clock = now - self.said >= LINE_EVERY_S  # said even as before: the time tells of a stalled download
        if n <= 0 or not (on_count or by_clock) or (not by_clock and self.what() == self.said_what):
            return  # a small download's tenths in whole MiB: "2 MiB of 5 MiB" was said at 1.5, 2 and 2.5 MiB
        self.say(now)

    def say(self, now: float) -> None:
        self.said, self.said_n, self.said_what = now, self.n, self.what()
        if writable(sys.stderr):  # closed since the bar began (a library caller's): the work goes on unsaid
            with contextlib.suppress(OSError):  # nor one that takes no more (`print_line`)
                print(self.line(now - self.start), file=sys.stderr, flush=True)

    def what(self) -> tuple[str, bool]:
        """What a line says but the time: the count (rounded, for a size) and the values, and whether it is the end
        (whose line says the whole, even in the words of the tenth before it)."""
        if self.unit == "B":
            count = f"{byte_size(self.n)} of {byte_size(self.total)}" if self.total else byte_size(self.n)
        else:
            count = f"{self.unit} {self.n}/{self.total}" if self.total else f"{self.unit} {self.n}"
        names = self.shown if self.shown is not None else {k: k for k in self.postfix}
        values = "".join(f", {word} {self.postfix[k]}" for k, word in names.items() if k in self.postfix)
        return count + values, self.n == self.total

    def line(self, spent: float) -> str:
        """`train x: step 40/200, G_A 0.512, 12 s, about 48 s left`; `horse2zebra.zip: 12 MiB of 100 MiB, 3 s, ...`."""
        said = self.what()[0]
        done = self.n - self.start_n
        left = ""
        if self.total and done > 0 and self.n < self.total:  # none at the end: its line says the whole
            left = f", about {spent / done * max(0, self.total - self.n):.0f} s left"
        return f"{self.desc}: {said}, {spent:.0f} s{left}"


def writable(stream: TextIO | None) -> bool:
    """Whether progress can be written to `stream`: not None (pythonw, a service: sys.stderr is None) nor closed
    (a library caller's `sys.stderr.close()`), where a progress line raised in the middle of the work."""
    return stream is not None and not getattr(stream, "closed", False)


def print_line(*lines: object) -> None:
    """Lines on stderr, each one line (control characters in names escaped): the package's one writer of what it
    says there besides progress (warnings, notes, `refused:` lines, a download's end, a stop's last word, the web
    server's log). Through tqdm, which takes a progress bar drawn there off its line first (printed, it went on the
    bar's line: `translate:   0%|   | 0/4 [00:00<?, ?img/s]warning: ...`) and draws it again below. None where
    stderr cannot take it (`writable`): a library caller's closed stderr raised ValueError in the middle of the
    work (a published model downloaded but never returned, a page's refusal answered by that ValueError), and
    pythonw's None sent the line to stdout (tqdm's default), into a translation piped there. Only the command line
    writes there itself, having guarded its stderr (`cli._Unfailing`). Nor where it takes no more (a pipe whose
    reader ended, a full disk): its BrokenPipeError stopped a caller's work at its next warning or note."""
    with contextlib.suppress(OSError):
        _write(sys.stderr, lines)


print_warning = print_line  # a `warning: ...` line, as its many callers name what they say


def print_out(*lines: object) -> None:
    """Lines on stdout, as `print_line` writes stderr's: what a library function says of its work where the command
    that runs it says it on stdout, and `cyclegan ... > log` keeps it (training's `computing in ...`, `scoring ...`,
    `fitting the steps ...` and `done: ...; checkpoint ...`, the demo's, translate's `already translated`, stylize's
    `style:`, serve's address). Above a bar on stderr, and flushed: a pipe's reader (`serve | grep`, `tee`) had
    them only at the end. None where stdout cannot take it: a library caller's closed stdout raised ValueError out
    of `train` (the run's last words, after its checkpoint, or its first, before any step). Only the command line
    prints there itself (its results; its stdout's failures said at the end: `cli._Watched`)."""
    _write(sys.stdout, lines, flush=True)


def _write(stream: TextIO | None, lines: Iterable[object], *, flush: bool = False) -> None:
    """`lines` on `stream`, each escaped to one line, through tqdm (off a bar's line); nothing where not `writable`."""
    if writable(stream):
        for line in lines:
            tqdm.write(escape(line), file=stream)
        if flush:
            stream.flush()


def on_terminal() -> bool:
    """Whether stderr is a terminal; False where it is closed or None (a library caller's), whose `isatty` raised."""
    return writable(sys.stderr) and sys.stderr.isatty()


def redraws() -> bool:
    """Whether stderr is a terminal that redraws a bar in place. A `TERM=dumb` one (an editor's shell buffer) moves
    no cursor: tqdm's nested bars (an image's tiles, stylize's steps under compare's images) go up a line with the
    ANSI escape ESC [A, which it shows as text in the middle of the bars."""
    return on_terminal() and os.environ.get("TERM") != "dumb"


# Set for a command given --no-progress (`cli._main`): the bars of what it reaches without that option at hand are
# off too (a `pretrained:NAME` checkpoint's first download, through `loading.checkpoint_path`, drew its sizes anyway).
_OFF: contextvars.ContextVar[bool] = contextvars.ContextVar("progress_off", default=False)


@contextlib.contextmanager
def turned_off(off: bool = True) -> Iterator[None]:
    """In the block (when `off`), every `progress_bar` is disabled and `allowed()` is False."""
    token = _OFF.set(off or _OFF.get())
    try:
        yield
    finally:
        _OFF.reset(token)


def allowed() -> bool:
    """Whether progress may be shown here (not inside `turned_off`): for a bar drawn by another library."""
    return not _OFF.get()


def progress_bar(
    total: int | None = None,
    desc: str = "",
    *,
    unit: str = "it",
    enabled: bool = True,
    iterable: Iterable | None = None,
    initial: int = 0,
    every: int | None = None,
    shown: Mapping[str, str] | None = None,
    nested: bool = False,
    **bar: Any,
) -> tqdm | Lines:
    """A tqdm bar where stderr is a terminal that redraws (`redraws`), `Lines` elsewhere, nothing (a disabled bar)
    when not `enabled`.
    `nested`: a bar under a caller's (an image's tiles, a scan before the work): where stderr is no terminal, a
    line only every LINE_EVERY_S (a slow image's tiles), not each tenth, which the caller's lines say.
    `bar`: tqdm's own keywords (leave, dynamic_ncols), for the terminal's bar."""
    desc = escape(desc)  # a clip's or a run's name, as every printed name: a newline in it split a log's line
    enabled = enabled and allowed() and writable(sys.stderr)  # no stderr to show it on: none, not an error
    if enabled and not redraws():
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        lines = {"unit": unit, "initial": initial, "every": every, "shown": shown, "by_clock": nested}
        return Lines(total, desc, iterable=iterable, **lines)
    return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, disable=not enabled, **bar)
