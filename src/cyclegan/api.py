"""`cyclegan.load_generator` and `cyclegan.save_generator`: `loading`'s, their one-line errors in a Python
caller's words.

The library's messages name the commands' flags (`use --direction BtoA`), which the commands and the web page
reword for themselves (`bench --task tiles`: --tile-direction; the page: its controls' labels). A Python caller
passed keyword arguments, and is shown them: `use direction='BtoA'`, as `cyclegan.translate` names its own
(`inference.keyword_names`).
"""

from __future__ import annotations

import re

from .errors import reworded
from .loading import load_generator as _load_generator
from .loading import save_generator as _save_generator

# load_generator's own arguments as flags, with the value (or the two) a message offers: "--ema off or auto"
_ARGUMENT_FLAG = re.compile(r"--(direction|ema) (\w+)(?: or (\w+))?(?![\w-])")


# `pretrained:NAME`'s download bounds, set by a command's flags: "`cyclegan pretrained download NAME --max-mb MB`"
_DOWNLOAD_BOUND = re.compile(r"`cyclegan pretrained download (\S+) --max-(mb|minutes) (\w+)`")


def in_python_words(message: str) -> str:
    """`message` with each flag of load_generator's arguments written as its keyword argument: "use --direction
    BtoA" -> "use direction='BtoA'", "use --ema off or auto" -> "use ema='off' or 'auto'"; a download's bound as
    `cyclegan.zoo.fetch_model`'s keyword, which caches the file load_generator then reads. Other flags stay:
    "train with --ema-decay" is training's advice, not an argument here."""

    def keyword(m: re.Match) -> str:
        return f"{m[1]}={m[2]!r}" + (f" or {m[3]!r}" if m[3] else "")

    def bound(m: re.Match) -> str:
        return f"cyclegan.zoo.fetch_model({m[1]!r}, max_{m[2]}={m[3]})"

    return _DOWNLOAD_BOUND.sub(bound, _ARGUMENT_FLAG.sub(keyword, message))


load_generator = reworded(in_python_words)(_load_generator)
save_generator = reworded(in_python_words)(_save_generator)
