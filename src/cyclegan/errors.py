"""The one exception type a user sees as a one-line message instead of a traceback, `escape`, which keeps
any message one line whatever the names in it hold, and `nearest`, the "did you mean" of an unknown name."""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterable, Mapping

# Characters that break a line or change how a terminal shows the rest of it: C0 and C1 controls (newline,
# carriage return, escape sequences), DEL, the Unicode line and paragraph separators, bidirectional
# overrides, and the surrogates that stand for a file name's undecodable bytes.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(m: re.Match) -> str:
    c = m.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def escape(text: object) -> str:
    """`str(text)` with each character that could start a new line or restyle the terminal written as its
    Python escape (`\\n`, `\\x1b`, `\\u202e`), the way `repr` writes it; other characters unchanged. A file
    named "a.png\\nerror: fake" is shown as `a.png\\nerror: fake` on one line, not as a second, spoofed
    message."""
    return _UNSAFE.sub(_escaped, str(text))


def replace_unsafe(text: str, by: str = "_") -> str:
    """`text` with each character `escape` writes as an escape replaced by `by`: for a file name made from a
    user's, which a page shows as it is (a right-to-left override showed `photo\u202egnp.exe` as `photoexe.png`)."""
    return _UNSAFE.sub(by, text)


def nearest(name: str, names: Iterable[str]) -> str | None:
    """The known name closest to a misspelt `name` (difflib's ratio, at least 0.6), or None. Case aside: `--direction
    atob` and `--ext JPG` were refused with no "did you mean" ('atob' is 0.5 like 'AtoB' by difflib), as `TRAIN` was."""
    spelt = {n.lower(): n for n in names}
    close = difflib.get_close_matches(name.lower(), list(spelt), n=1)
    return spelt[close[0]] if close else None


def install_extra(extra: str) -> str:
    """How to add one of the package's optional extras, as the README installs the package: from its clone
    (there is no `cyclegan` on a package index to take `pip install 'cyclegan[web]'`)."""
    return f'pip install -e ".[{extra}]" in the cyclegan clone'


def without_alternatives(message: str, names: Mapping[str, object]) -> str:
    """`message` less each alternative `, or FLAG ...` or `, or VERB FLAG ...` (up to the next comma, semicolon
    or the end) whose flag `names` maps to None: a caller with no such option must not be offered it (the web
    page has no --optimizer, yet its memory refusal said "or --optimizer adam"). Used by
    `inference.keyword_names` and the page's `web.engine.on_page`, which rewrite the other flags."""
    for flag in (f for f, name in names.items() if name is None):  # a verb before the flag: "or give --weights F"
        message = re.sub(rf",? or (?:[a-z]+ )?{re.escape(flag)}(?![\w-])[^,;]*", "", message)
    return message


def flags_as_keywords(message: str, names: Mapping[str, str | None]) -> str:
    """`message` with each flag of `names` (flag -> keyword; None: the caller has no such option, an alternative
    naming it dropped: `without_alternatives`) written as the Python keyword that sets it: "option '--tile' 5
    is under ..." -> "tile 5 is under ...". A flag as a message writes it (after a space, a quote or a bracket),
    never inside a file's name."""
    message = without_alternatives(message, names)
    flags = sorted((f for f in names if names[f] is not None), key=len, reverse=True)  # --tile-overlap first
    if not flags:
        return named_once(message)
    pattern = re.compile(r"(?:option )?'?(?<![^\s'(])(" + "|".join(map(re.escape, flags)) + r")(?![\w-])'?")
    return named_once(pattern.sub(lambda m: str(names[m[1]]), message))


# One flag or control named twice as alternatives, as a caller's renaming leaves `--style-size or --size`.
_TWICE = re.compile(r'("[^"]+"|--[a-z][\w-]*) or \1(?![\w-])')


def named_once(message: str) -> str:
    """`message` with an alternative of a flag or a quoted control's label and itself said once: a caller whose
    one option sets both (`compare`'s --size, the page's slider) turned `a larger --style-size or --size` into
    `a larger --size or --size`."""
    return _TWICE.sub(r"\1", message)


class CycleGANError(Exception):
    """A problem the user can act on: the message names the file, option or value and what to do. The
    message is kept to one line (`escape`) whatever the names in it hold."""

    def __init__(self, message: object = "") -> None:
        super().__init__(escape(message))


def reworded(reword: Callable[[str], str]):
    """A decorator: the function's one-line errors (`CycleGANError`) reworded by `reword` for its caller, who
    set no flag: `api`'s in a Python caller's words (`in_python_words`: `use direction='BtoA'`), `translate`'s
    with its keywords for the flags (`inference.keyword_names`: `tile 5 is under ...`)."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except CycleGANError as e:
                raise CycleGANError(reword(str(e))) from None

        return wrapper

    return decorate


def check_flag(name: str, value: object) -> None:
    """Refuse (one line) a Python caller's on/off keyword `name` that is not True or False: a string is truthy,
    so overwrite="no" replaced the file it was meant to keep."""
    if not isinstance(value, bool):
        raise CycleGANError(f"{name} must be True or False, got {value!r}")


def counted(n: int, noun: str) -> str:
    """A count with its noun as messages say it: '1 step', '300 steps', '1 lbfgs step' ("1 lbfgs steps" was
    printed where `--steps 1` was given)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def shown_score(metric: str | None, value: float | None) -> str:
    """A score as the training verdict and the notes on best.pt say it: psnr in dB to 2 places, others to 4; "-" for
    none. Here, not in `train.watch`: `translate --checkpoint RUN/best.pt` imported all of training for its note."""
    if value is None:
        return "-"
    return f"{value:.2f} dB" if metric and metric.endswith("psnr") else f"{value:.4f}"


def byte_size(n: float) -> str:
    """A size in bytes as messages say it, in the largest unit that keeps it at least 1: '512 bytes', '12 KiB',
    '300 MiB', '1.5 GiB'. In MiB alone, a disk with 200 KiB free had "0 MiB free" and a small need "about 0 MiB"."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}" if unit == "GiB" and n < 10 * scale else f"{n / scale:.0f} {unit}"
    return "1 byte" if n == 1 else f"{n:.0f} bytes"
