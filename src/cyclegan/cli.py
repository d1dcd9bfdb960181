"""The `cyclegan` command: the parser built from the table of subcommands (`cyclegan.commands`), then the
chosen command's options dataclass built from the flags and its runner called.

Each subcommand's options are one frozen dataclass in the library module that does the work (see
`cyclegan.options`); its flags are generated from the dataclass, and the dataclass checks the values, so
the command line and the Python API accept and refuse the same things. Only the module of the subcommand
being run is imported (with torch), so `cyclegan --help` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .commands import COMMANDS, Command
from .errors import CycleGANError, escape
from .options import add_arguments, from_namespace
from .version import __version__


def _chosen(argv: Sequence[str], names) -> str | None:
    """The first argument that names a command (only its options are loaded)."""
    return next((a for a in argv if a in names), None)


def _add_command(sub, name: str, cmd: Command, load: bool) -> None:
    p = sub.add_parser(name, help=cmd.help, description=cmd.description)
    p.set_defaults(command=cmd)
    if not load:
        return
    cls = cmd.options_class()
    if cls is None:
        return
    add_arguments(p, cls)
    if cmd.more_arguments is not None:
        cmd.more_arguments(p)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser, with the options of the command named in `argv` (all commands' when it names none)."""
    parser = argparse.ArgumentParser(
        prog="cyclegan", description="Unpaired image-to-image translation (CycleGAN) and neural style transfer."
    )
    parser.add_argument("--version", action="version", version=f"cyclegan {__version__}")
    sub = parser.add_subparsers(metavar="COMMAND")
    chosen = _chosen(argv, COMMANDS)
    for name, entry in COMMANDS.items():
        if isinstance(entry, Command):
            _add_command(sub, name, entry, load=name == chosen)
            continue
        group = sub.add_parser(name, help=f"{name}: {', '.join(entry)}", description=f"{name} by action.")
        actions = group.add_subparsers(metavar="ACTION")
        actions.required = True
        action = _chosen(argv, entry) if name == chosen else None
        for action_name, cmd in entry.items():
            _add_command(actions, action_name, cmd, load=action_name == action)
    return parser


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


def main(argv: list[str] | None = None) -> int:
    set_openmp_wait_policy()
    argv = sys.argv[1:] if argv is None else argv
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        cmd: Command | None = getattr(args, "command", None)
        if cmd is None:  # no command at all
            parser.print_help()
            return 2
        cls = cmd.options_class()
        opts = None
        if cls is not None:
            opts = from_namespace(cls, args)
        return cmd.run(opts, args) or 0
    except CycleGANError as e:
        print(f"error: {escape(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
