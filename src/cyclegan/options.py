"""Typed options: one frozen dataclass per subcommand (and per config section), flags generated from it.

Each option is a dataclass field made with `opt(default, help, ...)`: its type annotation, default, help
text and allowed range live there and nowhere else. From these fields come

- the command-line flags (`add_arguments`: `--batch-size N`, choices from `Literal[...]`, `--x/--no-x`
  for booleans, `nargs="+"` for tuples (a flag given twice adds to the list; a
  one-value flag given twice keeps the last with a warning), positionals where the field says so);
- the checks (`check_options`, run by `Options.__post_init__`): the type, finite numbers, the range;
  so the CLI and the Python API refuse the same bad value with the same one-line message.

A field whose type is itself an `Options` dataclass (e.g. the execution settings inside
`TranslateOptions`) contributes its own fields as flags, flattened; names are unique per command.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import dataclasses
import functools
import math
import numbers
import os
import shlex
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import MISSING, field, fields
from typing import Any, ClassVar, Literal

from .errors import CycleGANError, flags_as_keywords, nearest
from .progress import print_warning

MAX_SEED = 2**63 - 1  # seeds go to torch.manual_seed and numpy: non-negative 64-bit integers


def opt(
    default: Any = MISSING,
    help: str = "",
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    metavar: str | None = None,
    positional: bool = False,
    aliases: tuple[str, ...] = (),
    flag: str | None = None,
    default_text: str | None = None,
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] | None = None,
    factory: Any = MISSING,
    nonempty: str | None = None,
    writes: bool = False,
) -> Any:
    """A dataclass field with its help text and range in the metadata (`ge`: >=, `gt`: >, `le`, `lt`).

    `default_text` replaces the default in `--help` (e.g. "the preset's"); `aliases` are extra flag
    spellings (e.g. an old name kept working); `flag` the flag's name where it is not the field's (e.g.
    `--model` for the `family` field, as `model` names a config section); `choices` limits
    a `str` field's values in the parser (for names from a registry such as the presets, given as a function
    to read it when the parser is built; the dataclass checks the value itself). `nonempty`: an empty string
    (an unset variable, `--checkpoint "$RUN"`) is refused, saying to give this: an empty path is the working folder.
    `writes`: a path the command writes (a file or a folder), where `-` is refused as not standard output,
    saying to give `nonempty`'s words, and a ~ no shell expanded (`check_output_path`).
    """
    if writes and not nonempty:
        raise TypeError("opt(writes=True) needs nonempty: the words that say what to give instead of -")
    meta = {
        "help": help,
        "ge": ge,
        "gt": gt,
        "le": le,
        "lt": lt,
        "metavar": metavar,
        "positional": positional,
        "aliases": aliases,
        "flag": flag,
        "default_text": default_text,
        "choices": choices,
        "nonempty": nonempty,
        "writes": writes,
    }
    if factory is not MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


class Choices(tuple):
    """Choices for a flag: the names `--help` lists, plus `aliases` it accepts without listing them (an old
    spelling kept working)."""

    def __new__(cls, shown: tuple[str, ...], aliases: tuple[str, ...] = ()):
        self = super().__new__(cls, shown)
        self.aliases = tuple(aliases)
        return self

    def __contains__(self, value: object) -> bool:
        return super().__contains__(value) or value in self.aliases


# --- types -------------------------------------------------------------------------------------------------


def type_name(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return " | ".join(map(repr, typing.get_args(tp)))
    if typing.get_origin(tp) is tuple:
        return f"list of {type_name(typing.get_args(tp)[0])}"
    args = typing.get_args(tp)
    if args:
        return " | ".join(type_name(a) for a in args)
    return "null" if tp is type(None) else tp.__name__


def coerce(name: str, value: Any, tp: Any) -> Any:
    """Check `value` against the annotation `tp` (ints pass as floats, whole floats as ints, lists as tuples);
    raise a one-line error naming the option otherwise."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            try:
                return coerce(name, value, arg)
            except CycleGANError:
                pass
    elif origin is tuple:
        item = typing.get_args(tp)[0]
        if isinstance(value, str) and item is str:  # one path where a list of paths is expected
            return (value,)
        if isinstance(value, (list, tuple)):
            return tuple(coerce(name, v, item) for v in value)
    elif tp is type(None):
        if value is None:
            return None
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        # numbers.Integral: a numpy integer from a notebook's arithmetic (`tile=np.int64(512)` was "expected int")
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
        if isinstance(value, float) and value.is_integer():  # `steps: 1e3` in a config file; 1.5 stays refused
            return int(value)
    elif tp is float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):  # np.float32 too, as a float
            return float(value) + 0.0  # -0.0 as 0.0: `--lambda-identity -0` was written "-0.0" into config.json
    elif tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, os.PathLike):  # a Path where a file name is expected
            return os.fspath(value)
    elif dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
    else:  # an annotation this module does not check (e.g. Any)
        return value
    raise CycleGANError(f"option '{name}': expected {type_name(tp)}, got {value!r}{choice_hint(value, _words(tp))}")


def choice_hint(value: Any, choices: Iterable[Any]) -> str:
    """ "; did you mean 'cyclegan'?" for a misspelt text `value` near one of `choices`, else "": a config file's
    `family: cyclgan` listed the choices where the --model flag named the nearest."""
    words = [c for c in choices if isinstance(c, str)]
    close = nearest(value, words) if isinstance(value, str) and words else None
    return f"; did you mean {close!r}?" if close else ""


def _words(tp: Any) -> list[Any]:
    """The choices of a `Literal` annotation, of an optional one too (`Literal[...] | None`)."""
    return list(typing.get_args(_base(tp))) if typing.get_origin(_base(tp)) is Literal else []


def _base(tp: Any) -> Any:
    """`X | None` -> X; anything else unchanged."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


# --- checks ------------------------------------------------------------------------------------------------


def _range_text(m: dict) -> str:
    if m["gt"] == 0 and all(m[k] is None for k in ("ge", "le", "lt")):
        return "positive"
    bounds = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
    return " and ".join(f"{op} {_number(m[k])}" for k, op in bounds if m[k] is not None)


def _number(x: float) -> str:
    """A bound as written: a whole number exactly (`--seed`'s 9223372036854775807 was "9.22337e+18"), else %g."""
    return str(x) if isinstance(x, int) else f"{x:g}"


def _given(v: float) -> str:
    """A refused value as said: a whole number of over 30 digits in exponent notation (`--size 1e308` was said back
    in 309 digits); shorter ones exactly, as bounds are (`--seed`'s 2**63 is one more than its bound)."""
    digits = str(abs(v)) if isinstance(v, int) else ""
    if len(digits) <= 30:
        return str(v)
    fraction = digits[1:3].rstrip("0")
    return f"{'-' * (v < 0)}{digits[0]}{'.' * bool(fraction)}{fraction}e+{len(digits) - 1}"


def check_value(name: str, value: Any, meta: dict) -> None:
    """Finite numbers only; and within the field's range, if it has one. A one-line error otherwise."""
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if isinstance(v, float) and not math.isfinite(v):
            raise CycleGANError(f"option '{name}' must be a finite number, got {v}")
        ge, gt, le, lt = (meta.get(k) for k in ("ge", "gt", "le", "lt"))
        if (
            (ge is not None and v < ge)
            or (gt is not None and v <= gt)
            or (le is not None and v > le)
            or (lt is not None and v >= lt)
        ):
            raise CycleGANError(f"option '{name}' must be {_range_text(meta)}, got {_given(v)}")


def check_nonempty(name: str, value: Any, meta: dict) -> None:
    """A field with `nonempty` (a file's or folder's name) refuses "" (alone, or among a list's values) in one line
    saying what to give, and a file read refuses "-": a shell user's standard input, read as no such file (a path
    written, `writes`, refuses it in `check_output_path`)."""
    if meta.get("nonempty") and (value == "" or (isinstance(value, tuple) and "" in value)):
        raise CycleGANError(f"option '{name}' is empty (an unset variable?): give {meta['nonempty']}")
    if (
        meta.get("nonempty")
        and not meta.get("writes")
        and (value == "-" or (isinstance(value, tuple) and "-" in value))
    ):
        raise not_standard_input(f"option '{name}'", meta["nonempty"])


def not_standard_input(named: str, give: str) -> CycleGANError:
    """The one refusal of "-" as a file read (`named`: "option '--content'", or translate's "INPUT"), saying what
    to `give`: a shell user's standard input, which no command reads, was looked for as a file named '-'."""
    return CycleGANError(f"{named}: - is not standard input here; give {give}{_named_so('-')}")


def check_output_path(name: str, value: Any, meta: dict) -> None:
    """A path a command writes (`writes`) refuses `-`: a shell user's standard output (`--out -`, `--json -`)
    made a folder or a file named '-' in the working folder, the report or the images then where none looked. And
    a leading ~, which no shell expands when quoted or glued to its flag (`--out=~/runs/x`): it made a folder
    named '~' in the working folder, which a later `rm -r ~` to clean it up would take the home folder with."""
    if not meta.get("writes") or not isinstance(value, str):
        return
    if value == "-":
        raise CycleGANError(f"option '{name}': - is not standard output here; give {meta['nonempty']}{_named_so('-')}")
    if value.startswith("~"):
        raise CycleGANError(
            f"option '{name}': {value} starts with ~, which a shell leaves as it is when quoted or after an =, and "
            f"nothing expands it here: write the whole path{_named_so(value.split(os.sep)[0], value)}"
        )


def _named_so(name: str, value: str = "-") -> str:
    """The way to `value` where its first part, `name` (- or ~...), is truly a file or folder in the working folder:
    `./-` and `./~/x` are taken as written, and a user with such a folder (one an earlier `--out -` made) reaches it."""
    if not os.path.lexists(name):
        return ""
    return f" (for the {'folder' if os.path.isdir(name) else 'file'} named {name} here, write ./{value})"


def check_choice(name: str, value: Any, meta: dict, *, optional: bool = False) -> None:
    """A value of a field with `choices` (names from a registry) must be one of them: the same one line as for
    a `Literal` field."""
    choices = meta.get("choices")
    if choices is None:
        return
    choices = choices() if callable(choices) else choices
    if value not in choices:
        shown = " | ".join(map(repr, choices)) + (" | null" if optional else "")
        raise CycleGANError(f"option '{name}': expected {shown}, got {value!r}{choice_hint(value, choices)}")


# Set while options are built from a command line (`named_as_flags`): a "keyword" class's errors name its flags.
_FROM_FLAGS: contextvars.ContextVar[bool] = contextvars.ContextVar("from_flags", default=False)


class Options:
    """Base of the options dataclasses: on construction every field is type-checked (ints are accepted for
    floats, lists for tuples) and range-checked. Errors name the option as `option_name(field)` does."""

    # How errors name an option: "flag" (--batch-size, for subcommands), "key" (batch_size: config sections,
    # whose names are also config-file keys) or "keyword": the flag when built from a command line, else the
    # keyword argument (options a Python caller builds by hand too, as `translate_video(tiling=TilingOptions(...))`).
    naming: ClassVar[str] = "flag"

    def __post_init__(self) -> None:
        check_options(self)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.naming == "keyword":  # its checks, the base's and its own
            cls.__post_init__ = _keyword_errors(cls.__post_init__)


@contextlib.contextmanager
def named_as_flags() -> Iterator[None]:
    """In the block, options are built for a command line or controls labelled by its flags (the web page's):
    a "keyword" class's errors name its flags."""
    token = _FROM_FLAGS.set(True)
    try:
        yield
    finally:
        _FROM_FLAGS.reset(token)


def given_as(key: str, value: Any = MISSING, *, flag: str | None = None) -> str:
    """The option `key` (a config key: `eval_every`) as its caller gives it, for a message said where the run's
    options are no longer at hand (training's warnings and checks). Inside `named_as_flags` (the command line) its
    flag: `--eval-every`, `--eval-every 0`, `--skip-bad-images` for True, `--no-eval-kid` for False; outside it the
    keyword of a Python caller, who built the config with `cyclegan.config.resolve({...})`: `eval_every`,
    `eval_every=0`, `skip_bad_images=True`, `eval_kid=False` (it was told "pass --skip-bad-images", a flag it
    never typed). `value` as the message shows it: a str is quoted as Python writes it (`best_by='kid'`) unless it
    is a placeholder in capitals (`eval_every=N`); a flag's values as a shell takes them (`--nce-layers 0 4 8`, a path
    with a space quoted). `flag`: where the flag is not the key's (`--model` for family)."""
    if not _FROM_FLAGS.get():
        placeholder = isinstance(value, str) and value.isalpha() and value.isupper()  # N, ROOT: a path is quoted
        shown = repr(value) if isinstance(value, str) and not placeholder else value
        return key if value is MISSING else f"{key}={shown}"
    flag = flag or "--" + key.replace("_", "-")
    if value is True or value is MISSING:
        return flag
    if value is False:
        return f"--no-{flag[2:]}"
    return shlex.join([flag, *map(str, value if isinstance(value, tuple) else (value,))])  # as typed: --nce-layers 0 4


def given_as_any(key: str, values: Sequence[Any], *, flag: str | None = None) -> str:
    """The option `key` with any of `values`, as `given_as` words it: `--model cut or fastcut` on a command line,
    `family='cut' or 'fastcut'` in Python."""
    name = given_as(key, flag=flag)  # the flag, or the keyword
    rest = [given_as(key, v, flag=flag).removeprefix(name).removeprefix(" ").removeprefix("=") for v in values[1:]]
    return " or ".join([given_as(key, values[0], flag=flag), *rest])


def given_together(*options: str) -> str:
    """Options worded by `given_as`, written as their caller writes them together: flags apart by a space, as
    typed (`--preset paper --model cut`), a Python caller's keywords by a comma (`preset='paper', family='cut'`,
    where "preset='paper' family='cut'" read as no call does)."""
    return (" " if _FROM_FLAGS.get() else ", ").join(options)


def _keyword_errors(check: Callable[[Any], None]) -> Callable[[Any], None]:
    """`check` (a "keyword" class's `__post_init__`) with its errors' flags written as the keywords that set them,
    unless a command line is being read: `TilingOptions(tile=5)` said "option '--tile' 5 ...", a flag the caller
    never typed."""

    @functools.wraps(check)
    def checked(self: Any) -> None:
        try:
            check(self)
        except CycleGANError as e:
            if _FROM_FLAGS.get():
                raise
            names = {flag_of(f): f.name for f in fields(self)}
            raise CycleGANError(flags_as_keywords(str(e), names)) from None

    return checked


class Section(Options):
    """A section of a run's configuration (`model`, `data`, `train`, a model family's own): its errors name
    an option by its key (`batch_size`), the name used in config files."""

    naming: ClassVar[str] = "key"


def option_name(cls: type, name: str) -> str:
    return name if getattr(cls, "naming", "flag") == "key" else "--" + name.replace("_", "-")


def check_options(obj: Any) -> None:
    hints = typing.get_type_hints(type(obj))
    for f in fields(obj):
        name = option_name(type(obj), f.name)
        value = getattr(obj, f.name)
        if value is MISSING:
            raise CycleGANError(f"option '{name}' is required")
        value = coerce(name, value, hints[f.name])
        if value is not getattr(obj, f.name):
            object.__setattr__(obj, f.name, value)  # frozen: normalise 1 -> 1.0, [a] -> (a,)
        if value is not None:
            check_nonempty(name, value, f.metadata)
            check_output_path(name, value, f.metadata)
            check_value(name, value, f.metadata)
            check_choice(name, value, f.metadata, optional=_base(hints[f.name]) is not hints[f.name])


# --- flags -------------------------------------------------------------------------------------------------


def shown_value(value: Any) -> str:
    """A default as `--help` shows it: a switch's as "on" or "off" (the words of its --x/--no-x pair, not Python's
    True and False), a list's values as typed."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return " ".join(map(str, value))
    return str(value)


def default_text_of(f: dataclasses.Field) -> str:
    if f.metadata.get("default_text"):
        return f.metadata["default_text"]
    if f.default is not MISSING and f.default is not None:
        return shown_value(f.default)
    return ""


def option_fields(cls: type) -> list[tuple[dataclasses.Field, Any]]:
    """(field, type) of every leaf option of `cls`, nested Options dataclasses flattened, in order."""
    out = []
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        tp = hints[f.name]
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            out += option_fields(tp)
        else:
            out.append((f, tp))
    return out


def whole_number(text: str) -> int:
    """An int flag's value: also a whole number in exponent notation (`--steps 1e4`, as a config file's `steps:
    1e4` is taken), which argparse's int refused; 1.5 stays refused."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value.is_integer():  # nan, inf and fractions
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    return int(value)


class _ExtendOnRepeat(argparse.Action):
    """A list option (nargs="+") given twice keeps both lists: `--style a.png --style b.png` is `--style a.png
    b.png` (argparse's "store" kept only the last, dropping a.png without a word). The first use replaces the
    default."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        given = namespace.__dict__.setdefault("_lists_given", set())
        earlier = list(getattr(namespace, self.dest)) if self.dest in given else []
        given.add(self.dest)
        setattr(namespace, self.dest, [*earlier, *values])


def _said_once() -> bool:
    """Whether this process says a command line's warnings: under torchrun, each rank parses the same line, and
    the first says them."""
    return os.environ.get("RANK", "0") == "0"


def _note_given(namespace: argparse.Namespace, dest: str, value: object, said: str) -> None:
    """Note that option `dest` was given `value`, `said` as the command line says it (`--lr 0.001`, `--no-x`); a
    different value given before is named with it in one line, the last kept."""
    seen = namespace.__dict__.setdefault("_scalars_given", {})
    if dest in seen and seen[dest][1] != value and _said_once():
        print_warning(f"warning: {seen[dest][0]} and {said} both given: {said} kept (the last)")
    seen[dest] = (said, value)


class _WarnOnRepeat(argparse.Action):
    """A one-value option given twice keeps the last, as argparse does, but says so in one line: `--lr 1e-3 ...
    --lr 2e-4` (a command line edited and pasted back) trained at 2e-4 without a word of the 1e-3. The same value
    twice says nothing; lists (`_ExtendOnRepeat`) add up instead. The values are said as typed: converted,
    `--minutes 1 --minutes 2` was said as "--minutes 1.0 and --minutes 2.0"."""

    def __init__(self, *args: Any, type: Callable[[str], Any] | None = None, **kwargs: Any) -> None:
        self._typed: str | None = None
        if type is not None:
            convert = type

            @functools.wraps(convert)  # its __name__ kept: argparse's "invalid float value" names it
            def type(text: str) -> Any:  # argparse converts, then calls the action at once: the text reaches it
                self._typed = text
                return convert(text)

        super().__init__(*args, type=type, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        typed, self._typed = self._typed, None
        _note_given(namespace, self.dest, values, f"{option_string} {values if typed is None else typed}")
        setattr(namespace, self.dest, values)


class _WarnOnRepeatBool(argparse.BooleanOptionalAction):
    """`--x` and `--no-x` both given: the last kept, said as `_WarnOnRepeat` says it."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        _note_given(namespace, self.dest, not option_string.startswith("--no-"), option_string)
        super().__call__(parser, namespace, values, option_string)


def add_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    *,
    suppress_defaults: bool = False,
    exclude: tuple[str, ...] = (),
    default_texts: dict[str, str] | None = None,
    notes: dict[str, str] | None = None,
) -> None:
    """Add one flag (or positional) per leaf field of `cls`.

    suppress_defaults: leave a flag that was not given out of the namespace (the train config, where a
        preset or a config file fills it in); else the field's default is the flag's default.
    default_texts: what `--help` shows as a field's default, by field name (e.g. with each preset's).
    notes: text added to the end of a field's help, by field name (e.g. the model families it applies to).
    """
    for f, tp in option_fields(cls):
        if f.name in exclude:
            continue
        m = f.metadata
        required = f.default is MISSING and f.default_factory is MISSING
        base = _base(tp)
        default = argparse.SUPPRESS if suppress_defaults else (None if required else _field_default(f))
        dtext = (default_texts or {}).get(f.name) or default_text_of(f)
        help_text = m.get("help", "") + (f" (default: {dtext})" if dtext and not required else "")
        if notes and f.name in notes:
            help_text += " " + notes[f.name]
        help_text = help_text.replace("%", "%%")
        flags = [flag_of(f), *m.get("aliases", ())]
        if base is bool:
            parser.add_argument(*flags, dest=f.name, action=_WarnOnRepeatBool, default=default, help=help_text)
            continue
        kwargs: dict[str, Any] = {"default": default, "help": help_text}
        if typing.get_origin(base) is tuple:
            kwargs["nargs"] = "+"
            base = typing.get_args(base)[0]
        if typing.get_origin(base) is Literal:
            kwargs["choices"] = typing.get_args(base)
        elif m.get("choices"):
            kwargs["choices"] = m["choices"]() if callable(m["choices"]) else m["choices"]
        elif base in (int, float):
            kwargs["type"] = whole_number if base is int else base
            kwargs["metavar"] = m.get("metavar") or ("N" if base is int else "X")
        else:
            kwargs["metavar"] = m.get("metavar") or "S"
        if m.get("positional"):
            kwargs.pop("default")
            if required:
                kwargs.setdefault("nargs", None)
            parser.add_argument(f.name, **{k: v for k, v in kwargs.items() if v is not None})
            continue
        if required and not suppress_defaults:
            kwargs["required"] = True
        kwargs["action"] = _ExtendOnRepeat if kwargs.get("nargs") == "+" else _WarnOnRepeat
        parser.add_argument(*flags, dest=f.name, **kwargs)


def flag_of(f: dataclasses.Field) -> str:
    """The command-line flag of a field: `--name-with-dashes`, unless the field names another."""
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None


def from_namespace(cls: type, ns: argparse.Namespace | dict, **overrides: Any) -> Any:
    """Build `cls` from parsed flags (nested Options dataclasses too); `overrides` win."""
    values = vars(ns) if isinstance(ns, argparse.Namespace) else dict(ns)
    values.update(overrides)
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in fields(cls):
        tp = hints[f.name]
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            kwargs[f.name] = from_namespace(tp, values)
        elif f.name in values:
            kwargs[f.name] = values[f.name]
    with named_as_flags():
        return cls(**kwargs)


def to_flags(obj: Any, *, skip: tuple[str, ...] = ()) -> list[str]:
    """The command-line flags that reproduce `obj` (every option, defaults included): for reports.
    `skip`: fields (e.g. a nested group that does not apply) left out."""
    parts: list[str] = []
    hints = typing.get_type_hints(type(obj))
    positionals: list[str] = []
    for f in fields(obj):
        if f.name in skip:
            continue
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(hints[f.name]):
            parts += to_flags(value)
            continue
        if value is None:
            continue
        flag = flag_of(f)
        if f.metadata.get("positional"):
            positionals += list(map(str, value if isinstance(value, tuple) else [value]))
        elif isinstance(value, bool):
            parts.append(flag if value else "--no-" + flag[2:])
        else:
            parts += [flag, *map(str, value if isinstance(value, tuple) else [value])]
    return parts + positionals
