"""The ``python -m gcpause`` command line: one ``Command`` per subcommand.

Each command is an object with ``prepare_parser(parser)`` and
``run(args, parser) -> int``; its name is the class name without
``Command``, lower-cased, and its help is the first line of its docstring.
``main()`` maps a ``GcpauseError`` to one ``gcpause: error: ...`` line on
stderr and its exit code; argparse's own errors exit 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional, Protocol

from .._errors import GcpauseError
from .demo import DemoCommand
from .run import RunCommand


class Command(Protocol):
    """A subcommand of ``python -m gcpause``."""

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        """Add the command's options and arguments to ``parser``."""

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        """Do the work; return the exit code (or raise GcpauseError)."""


_COMMANDS: dict[str, Command] = {
    "run": RunCommand(),
    "demo": DemoCommand(),
}


def version_text() -> str:
    """``gcpause X (implementation: c|pure[; reason]), Python V``."""
    import platform

    import gcpause

    impl = gcpause.IMPLEMENTATION
    if impl == "pure":
        impl += f"; C extension unavailable: {gcpause.IMPORT_ERROR}"
    return (f"gcpause {gcpause.__version__} (implementation: {impl}), "
            f"{platform.python_implementation()} {platform.python_version()}")


class _VersionAction(argparse.Action):
    def __init__(self, option_strings: List[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: Optional[str] = None) -> None:
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0,
                         help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: Optional[str] = None) -> None:
        print(version_text())
        parser.exit()


def _help_of(command: Command) -> str:
    doc = type(command).__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def get_argument_parser() -> argparse.ArgumentParser:
    """The full parser: global options and one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="python -m gcpause",
        description="Measure every CPython cyclic-GC pause of a program, and compare "
                    "GC control modes on a bundled workload.",
        epilog="Run 'python -m gcpause COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action=_VersionAction,
                        help="print the version and recorder implementation, then exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name, command in _COMMANDS.items():
        help_text = _help_of(command)
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        command.prepare_parser(sub)
        sub.set_defaults(_gcpause_command=command, _gcpause_parser=sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = get_argument_parser()
    args = parser.parse_args(argv)
    command: Command = args._gcpause_command
    try:
        return command.run(args, args._gcpause_parser)
    except GcpauseError as exc:
        sys.stdout.flush()
        print(f"gcpause: error: {exc}", file=sys.stderr)
        return exc.exit_code
