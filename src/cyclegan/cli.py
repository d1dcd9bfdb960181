"""The `cyclegan` command: the parser built from the table of subcommands (`cyclegan.commands`), then the
chosen command's options dataclass built from the flags and its runner called.

Each subcommand's options are one frozen dataclass in the library module that does the work (see
`cyclegan.options`); its flags are generated from the dataclass, and the dataclass checks the values, so
the command line and the Python API accept and refuse the same things. Only the module of the subcommand
being run is imported (with torch), so `cyclegan --help` is instant.

This module imports nothing at load time but `sys` and `signal`: the rest is imported inside `main`, so a Ctrl-C
while the modules load ends in one line ("interrupted", status 130) instead of a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from .commands import Command


def __getattr__(name: str):
    # `from cyclegan.cli import COMMANDS`: the table, imported when asked for (see the module's docstring)
    if name in ("COMMANDS", "Command"):
        from . import commands

        return getattr(commands, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _chosen(argv: Sequence[str], names) -> str | None:
    """The first argument that names a command (only its options are loaded)."""
    return next((a for a in argv if a in names), None)


def _add_command(sub, name: str, cmd: Command, load: bool) -> None:
    # allow_abbrev is not inherited from the parent parser: each sub-parser is given it
    p = sub.add_parser(
        name, help=cmd.help, description=cmd.description, allow_abbrev=False, formatter_class=_help_formatter()
    )
    p.set_defaults(command=cmd, command_parser=p)
    if not load:
        return
    cls = cmd.options_class()
    if cls is None:
        return
    from .options import add_arguments

    add_arguments(p, cls)
    if cmd.more_arguments is not None:
        cmd.more_arguments(p)


def _help_formatter() -> type:
    """argparse's help formatter, wrapping lines at spaces only: it broke them after a hyphen, so a flag named in a
    help text was cut in two (`--no-eval-` at one line's end, `kid` on the next), and could not be copied; and in a
    narrow terminal it cut a word longer than the line (`$CYCLEGAN_` / `INCEPTION_WEIGHTS`), which now overflows."""
    import argparse
    import re
    import textwrap

    class WholeWords(argparse.HelpFormatter):
        def _split_lines(self, text: str, width: int) -> list[str]:
            text = re.sub(r"\s+", " ", text).strip()
            return textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False)

        def _fill_text(self, text: str, width: int, indent: str) -> str:
            text = re.sub(r"\s+", " ", text).strip()
            return textwrap.fill(
                text,
                width,
                initial_indent=indent,
                subsequent_indent=indent,
                break_on_hyphens=False,
                break_long_words=False,
            )

    return WholeWords


def _one_line_errors(base: type) -> type:
    """An ArgumentParser class whose usage errors are one `error:` line, as every other error of a command: argparse
    wrote the command's whole usage first (40 lines for `train`, which scrolled its `--steps x` error's context
    away) where a CycleGANError of the same command wrote one line. The option is named as those lines name it."""
    import argparse
    import re

    class OneLineErrors(base):
        def error(self, message: str):
            message = re.sub(r"^argument (--[a-z0-9-]+)(?:/--[a-z0-9-]+)?: ", r"option '\1': ", message)
            message = re.sub(r"^argument (COMMAND|ACTION): invalid choice: ", lambda m: f"no {m[1].lower()} ", message)
            said = message.endswith(")") and (f"see {self.prog} --help)" in message or "(did you mean" in message)
            hint = "" if said else f" (see {self.prog} --help)"
            self.exit(2, f"error: {message}{hint}\n")

        def _check_value(self, action, value):
            # a misspelt choice (`--preset fsat`) named the nearest one, as a misspelt flag or command does
            from .errors import nearest

            if action.option_strings and action.choices is not None and value not in action.choices:
                if isinstance(value, str) and (close := nearest(value, map(str, action.choices))):
                    listed = ", ".join(map(repr, action.choices))
                    raise argparse.ArgumentError(
                        action, f"invalid choice: {value!r}; did you mean {close!r}? (choose from {listed})"
                    )
            super()._check_value(action, value)

    return OneLineErrors


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser, with the options of the command named in `argv` (all commands' when it names none).

    No parser takes a prefix of an option (argparse's allow_abbrev): `--lambda-cyc 5` would be
    `--lambda-cycle` today and an error the day an option `--lambda-cyc...` is added, and `--step` would
    mean `--steps` in one command and nothing in another. A prefix is refused with the nearest option named.
    """
    import argparse

    from .commands import COMMANDS, Command
    from .version import __version__

    parser = _one_line_errors(argparse.ArgumentParser)(
        prog="cyclegan",
        description="Unpaired image-to-image translation (CycleGAN) and neural style transfer.",
        allow_abbrev=False,
        formatter_class=_help_formatter(),
    )
    parser.add_argument("--version", action="version", version=f"cyclegan {__version__}")
    sub = parser.add_subparsers(metavar="COMMAND")
    chosen = _chosen(argv, COMMANDS)
    for name, entry in COMMANDS.items():
        if isinstance(entry, Command):
            _add_command(sub, name, entry, load=name == chosen)
            continue
        group = sub.add_parser(
            name,
            help=f"{name}: {', '.join(entry)}",
            description=f"One of {len(entry)} actions; each action's options: cyclegan {name} ACTION --help.",
            allow_abbrev=False,
            formatter_class=_help_formatter(),
        )
        actions = group.add_subparsers(metavar="ACTION")
        actions.required = True
        action = _chosen(argv, entry) if name == chosen else None
        for action_name, cmd in entry.items():
            _add_command(actions, action_name, cmd, load=action_name == action)
    return parser


# One budget, two spellings: `demo --minutes` and `train --time-limit` (a user who ran the demo typed
# `train --minutes 2` and got "see cyclegan train --help" among 270 lines). Other tools' words for ours:
# `--save-every` (spelt near `--sample-every`, which it was taken for) is `--checkpoint-every`.
SYNONYMS = {
    "--minutes": ("--time-limit",),
    "--time-limit": ("--minutes",),
    "--save-every": ("--checkpoint-every",),
    "--save-freq": ("--checkpoint-every",),
}


def _nearest_flags(typed: str, flags: list[str]) -> list[str]:
    """The options a mistyped flag likely meant: a known other word for one (`--minutes`: `--time-limit`;
    first, as it is sure where a spelling is a guess: `--save-every` is nearest `--sample-every`), else those it
    is a prefix of (`--step`: `--steps`), else the nearest spelling (`--dirction`: `--direction`)."""
    import difflib

    known = [f for f in SYNONYMS.get(typed, ()) if f in flags]
    longer = [f for f in flags if f.startswith(typed) and f != typed]
    return known or longer or difflib.get_close_matches(typed, flags, n=1, cutoff=0.75)


def _unrecognized(p: argparse.ArgumentParser, unknown: list[str]) -> None:
    """Exit (status 2) with the unknown arguments and the nearest option for a mistyped flag, else the commands
    whose option it is (`translate --steps 3` said only "see cyclegan translate --help")."""
    from .commands import commands_taking

    flags = [o for a in p._actions for o in a.option_strings if o.startswith("--")]
    first = next((a.split("=", 1)[0] for a in unknown if a.startswith("--")), None)
    close = _nearest_flags(first, flags) if first else []
    if len(close) > 3:  # `--nce`: five options
        named = f"{', '.join(close[:3])}, ..."
    else:
        named = " or ".join(close) if len(close) < 3 else f"{close[0]}, {close[1]} or {close[2]}"
    hint = f" (did you mean {named}?)" if close else f" (see {p.prog} --help)"
    if not close and first and (others := commands_taking(first)):
        hint = f" ({first} is an option of cyclegan {', '.join(others)}; see {p.prog} --help)"
    p.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")


def _refuse_unknown_flags(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """Unknown `--flags` refused with the nearest option before parsing: argparse's check of required options
    comes first, so `translate --chekpoint X` said "required: --checkpoint" and not a word of the typo."""
    import argparse

    from .commands import commands_taking

    p = parser
    for word in argv:  # down to the command's own parser
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or word not in subs[0].choices:
            break
        p = subs[0].choices[word]
    known = {o for a in p._actions for o in a.option_strings}
    typed = list(argv[: argv.index("--")] if "--" in argv else argv)
    if "-h" in typed or "--help" in typed:  # help asked for: argparse shows it, whatever else the line holds
        return
    # a file whose name starts with a dash (`-scan.png`): argparse took it for an option and said "required: INPUT"
    # or "unrecognized arguments: -scan.png", not a word of the file
    if p is not parser and (dashed := next((w for w in typed if _dashed_file(w, known)), None)):
        kind = "folder" if os.path.isdir(dashed) else "file"
        p.error(f"{dashed} is a {kind}, read as an option: give it as ./{dashed}, or put -- before it")
    unknown = [w for w in typed if w.startswith("--") and w.split("=", 1)[0] not in known]
    if unknown and p is not parser:
        _unrecognized(p, unknown)
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    named = next((w for w in typed if w in commands), None)
    if unknown and named is not None:  # `cyclegan --lr 3 train` said "no command '3'"
        flag = unknown[0].split("=", 1)[0]
        takers = [c for c in commands_taking(flag) if c == named or c.startswith(f"{named} ")]
        if not takers:
            # not one of its options (`cyclegan --bogus train`): "options go after it" sent it there to be refused
            _unrecognized(commands[named], unknown)
        # a group's action too (`cyclegan --count 3 datasets synthetic`): "cyclegan datasets ... --count" named none
        after = typed[typed.index(named) + 1 : typed.index(named) + 2]
        full = next((c for c in takers if c == " ".join([named, *after])), " or ".join(takers))
        parser.error(
            f"{flag} is given before the command {full}: options go after it, as in cyclegan {full} ... {flag}"
        )


def _dashed_file(word: str, known: set[str]) -> bool:
    """Whether a command-line word read as an option (it starts with a dash) is none of the command's, but a file or
    folder there (`-scan.png`; "-" alone is standard input, and a negative number stays a value)."""
    return word.startswith("-") and word != "-" and word.split("=", 1)[0] not in known and os.path.lexists(word)


def _intermixed(args: argparse.Namespace, unknown: list[str]) -> list[str]:
    """`unknown` less the words that are more of the command's positional of many values, added to it in order:
    argparse takes a positional's values in one run, so `translate a.png --out o b.png` refused b.png as
    "unrecognized", where a shell user gives files around options (`cp`, `git add`)."""
    p = getattr(args, "command_parser", None)
    many = next((a for a in p._actions if not a.option_strings and a.nargs in ("+", "*")), None) if p else None
    if many is None or "--" in unknown:  # after `--`, argparse's own reading stands
        return unknown
    words = [w for w in unknown if not w.startswith("-")]
    setattr(args, many.dest, [*(getattr(args, many.dest) or []), *words])
    return [w for w in unknown if w.startswith("-")]


def _as_typed(message: str, p: argparse.ArgumentParser, argv: Sequence[str]) -> str:
    """`message` with each option the user typed on the command line named by its flag (`option
    '--log-every'`) where the message names it by its config key (`option 'log_every'`, as the config
    sections and the Python API name it). An option set elsewhere (a config file, a stored run, a preset)
    keeps its key, the name the file spells; so does a file's own error (`option 'steps' in 'c.yaml'`)."""
    import re

    typed = {a.split("=", 1)[0] for a in argv if a.startswith("--")}
    flags = {}
    for action in p._actions:
        given = [o for o in action.option_strings if o in typed]  # `--no-eval-kid` for eval_kid, as typed
        if given:
            flags[action.dest] = given[0]

    def flag(m: re.Match) -> str:
        return f"option '{flags[m[1]]}'" if m[1] in flags else m[0]

    message = re.sub(r"option '([a-z][a-z0-9_]*)'(?! in ')", flag, message)

    # "(the default)" of a value the user typed (`--optimizer lbfgs --lr 0.5`, `--tile-overlap 64`) read as if they
    # had not: a check of values cannot tell, the command line can
    def untyped(m: re.Match) -> str:
        return m[1] if m[2] in typed else m[0]

    return re.sub(r"((--[a-z][a-z0-9-]*)'? [^\s,:;]+) \(the default\)", untyped, message)


def _misspelt_command(argv: Sequence[str], commands) -> str | None:
    """ "did you mean" for a mistyped command or action (`cyclegan trian`, `cyclegan datasets synthtic`), which
    argparse refused with the whole list of choices and no nearest one; None when nothing is close."""
    from .errors import nearest

    words = [a for a in argv[:2] if not a.startswith("-")]
    if not words:
        return None
    prog, names = "cyclegan", commands
    if words[0] in commands:
        if isinstance(commands[words[0]], dict) and len(words) > 1 and words[1] not in commands[words[0]]:
            prog, names, words = f"cyclegan {words[0]}", commands[words[0]], words[1:]
        else:
            return None
    close = nearest(words[0], names)
    return f"no command '{words[0]}' in {prog}: did you mean '{close}'? (see {prog} --help)" if close else None


def _main(argv: list[str]) -> int:
    from . import process
    from .commands import COMMANDS
    from .errors import CycleGANError, escape
    from .options import from_namespace, named_as_flags
    from .progress import turned_off

    process.set_openmp_wait_policy()
    parser = args = None
    if message := _misspelt_command(argv, COMMANDS):
        print(f"error: {escape(message)}", file=sys.stderr)
        return 2
    try:
        parser = build_parser(argv)
        _refuse_unknown_flags(parser, argv)
        args, unknown = parser.parse_known_args(argv)
        unknown = _intermixed(args, unknown)
        if unknown:  # the command's own usage and a hint, not the top level's "usage: cyclegan COMMAND ..."
            _unrecognized(getattr(args, "command_parser", parser), unknown)
        cmd: Command | None = getattr(args, "command", None)
        if cmd is None:  # no command at all: a usage error, on stderr as argparse says its others
            parser.print_help(sys.stderr)
            return 2
        cls = cmd.options_class()
        opts = None
        if cls is not None:
            opts = from_namespace(cls, args)
        # what the command says of its options names their flags (`options.given_as`); --no-progress reaches the
        # bars of what it calls without the option (a `pretrained:NAME` download)
        with named_as_flags(), turned_off(getattr(args, "progress", True) is False):
            return cmd.run(opts, args) or 0
    except CycleGANError as e:
        message = str(e) if args is None else _as_typed(str(e), getattr(args, "command_parser", parser), argv)
        print(f"error: {escape(message)}", file=sys.stderr)
        return 2


class _Watched:
    """`sys.stdout` with its first failed write or flush kept, so that `main` says a full disk or a closed reader
    (`cyclegan --help > /dev/full`) in one line at the end; argparse swallows its own write errors (help and version
    exited 0 with nothing written), so the failure is kept here rather than caught. After it, nothing more is
    written and nothing raised: the work goes on to its end. It raised out of whatever printed, and a progress
    bar flushes stdout at every refresh: `translate ... > /dev/full` or `train ... | head -3` stopped in the
    middle of the work, for a line nobody would read."""

    def __init__(self, stream) -> None:
        self.stream, self.failed = stream, None

    def _kept(self, call, *args) -> None:
        if self.failed is not None:
            return
        try:
            call(*args)
        except OSError as e:
            self.failed = e

    def write(self, text: str) -> int:
        self._kept(self.stream.write, text)
        return len(text)

    def flush(self) -> None:
        self._kept(self.stream.flush)

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


class _Closed:
    """The stdout of `cyclegan translate ... >&-`: Python sets it to None, on which `main`'s own stream failed in
    an AttributeError traceback; each write fails as a closed descriptor's, said in one line as a full disk is."""

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "it is closed")

    def flush(self) -> None:
        raise OSError(errno.EBADF, "it is closed")

    def fileno(self) -> int:
        return 1


class _Unfailing:
    """`sys.stderr` whose writes never fail: with stderr closed (`2>&-`) or on a full disk (`2>/dev/full`), the
    first progress bar's write raised out of `translate` before any image was written, a traceback nobody saw and
    the work lost. Where stderr takes nothing, nothing can be said there: the work goes on, its status says how it
    ended."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        with contextlib.suppress(OSError, ValueError, AttributeError):  # ValueError: closed; AttributeError: None
            self.stream.write(text)
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self.stream.flush()

    def isatty(self) -> bool:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            return self.stream.isatty()
        return False

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def _stdout_failed(e: OSError) -> int:
    """A write to stdout that failed: one line on stderr and a non-zero status, never a traceback. After a
    SIGTERM or SIGHUP the command stopped on (`process.RECEIVED`), that signal's status: a closed terminal fails
    the stopped command's last line ("wrote ..."), and `stylize` kept its best image but exited 1, not 129."""
    from .process import RECEIVED  # torch-free

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's flush at exit fails again
    if RECEIVED:
        return 128 + RECEIVED[-1]
    if isinstance(e, BrokenPipeError):  # `cyclegan datasets list | head`: the reader left, as it meant to
        return 141  # as a shell reports a process ended by SIGPIPE
    with contextlib.suppress(OSError):
        print(f"error: cannot write to standard output ({e.strerror or e})", file=sys.stderr)
    return 1


def _unmatched_torchvision(e: Exception) -> str | None:
    """The line for a torchvision whose compiled operators did not load into this torch, else None. Importing
    it then fails deep in torch with `operator torchvision::nms does not exist`: the pair pip leaves when torch
    comes from one index (the CPU builds') and torchvision from another (PyPI's, built for CUDA and a pinned torch),
    which the README's install warns of. Versions from the installed metadata: torchvision itself cannot load."""
    if not isinstance(e, RuntimeError) or not str(e).startswith("operator torchvision::"):
        return None
    from importlib import metadata

    def installed(name: str) -> str:
        with contextlib.suppress(metadata.PackageNotFoundError):
            return metadata.version(name)
        return "not installed"

    return (
        f"torchvision {installed('torchvision')} does not work with torch {installed('torch')} (its compiled"
        " operators did not load: the two come from different builds): install both from one index, e.g."
        " pip install --force-reinstall torch torchvision --index-url https://download.pytorch.org/whl/cpu"
        " (or without --index-url for the CUDA builds)"
    )


def _escaping(stream) -> str | None:
    """Have `stream` write a character its encoding lacks as an escape (`\\xe9`), as stderr does, and return its
    previous setting (None: a stream that cannot be set). A file name the console's code page cannot show (a
    Windows cp1252 console, `PYTHONIOENCODING=ascii`) made `wrote 3 file(s) to ausgabe_é` a UnicodeEncodeError
    traceback and exit 1, after the work was done."""
    errors = getattr(stream, "errors", None)
    try:
        stream.reconfigure(errors="backslashreplace")
    except (AttributeError, ValueError, OSError):  # not a TextIOWrapper (a caller's StringIO)
        return None
    return errors


def main(argv: list[str] | None = None) -> int:
    # Ctrl-C while torch, numpy or scipy import can leave a module half-imported, and what fails next is then not
    # always a KeyboardInterrupt (numpy's __getattr__ recursing: a RecursionError traceback). So Python's SIGINT
    # handler is wrapped to note the Ctrl-C, and an error that escapes after one is reported as the interrupt.
    # Commands that handle Ctrl-C keep doing so: training's StopRequest replaces the handler while it trains,
    # translate catches the KeyboardInterrupt. Left alone where SIGINT is ignored (nohup, a background job) or
    # off the main thread.
    seen: list[int] = []
    received_before: int | None = None  # set once `process` is imported, under the handler below

    def on_sigint(signum, frame) -> None:
        seen.append(signum)
        signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt, as Python's own handler does

    old, stdout, stderr = None, sys.stdout, sys.stderr
    errors = _escaping(stdout)
    out = sys.stdout = _Watched(stdout if stdout is not None else _Closed())
    sys.stderr = _Unfailing(stderr)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        try:
            old = signal.signal(signal.SIGINT, on_sigint)
        except ValueError:  # not the main thread
            pass
    try:
        # imported here, not above: a Ctrl-C while it loads (ctypes, threading) was a traceback and exit 1
        from .process import RECEIVED, stop_word  # torch-free

        # a SIGTERM or SIGHUP `terminate_as_interrupt` turned into `Terminated` can leave a half-imported module too
        # (`train` stopped while torch imports: a RecursionError traceback); those of this call, not an earlier one's
        received_before = len(RECEIVED)
        try:
            code = _main(sys.argv[1:] if argv is None else argv)
        except SystemExit:  # argparse's help, version and usage errors: their writes checked too
            out.flush()
            if out.failed is None:
                raise
            return _stdout_failed(out.failed)
        out.flush()  # here, where a full disk or a closed pipe is caught, not in Python's exit ("Exception ignored")
        return code if out.failed is None else _stdout_failed(out.failed)
    except KeyboardInterrupt as e:  # while the modules load, or in a command that does not catch it
        from .process import Terminated  # torch-free; a SIGTERM `process.terminate_as_interrupt` raised

        term = isinstance(e, Terminated)  # e.g. `compare` stopped before its first image: not a Ctrl-C
        with contextlib.suppress(OSError):  # a terminal that hung up takes no line: the exit status says it
            print(e.word if term else "interrupted", file=sys.stderr)
        return e.status if term else 130
    except Exception as e:
        if message := _unmatched_torchvision(e):  # a broken install, not a bug of ours: what to do, not a traceback
            with contextlib.suppress(OSError):
                print(f"error: {message}", file=sys.stderr)
            return 1
        stops = RECEIVED[received_before:] if received_before is not None else []
        if not (seen or stops):
            raise
        with contextlib.suppress(OSError):  # a terminal that hung up takes no line: the exit status says it
            print(stop_word(stops[-1]) if stops else "interrupted", file=sys.stderr)
        return 128 + stops[-1] if stops else 130
    finally:
        sys.stdout, sys.stderr = stdout, stderr
        if errors is not None:
            stdout.reconfigure(errors=errors)
        if old is not None:
            signal.signal(signal.SIGINT, old)
