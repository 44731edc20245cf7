"""Errors raised by gcpause's command line and reports.

``main()`` turns a ``GcpauseError`` into one line on stderr
(``gcpause: error: ...``) and an exit code, never a traceback.
"""

from __future__ import annotations


class GcpauseError(Exception):
    """A failure gcpause can explain in one line; exit code 1 from the CLI."""

    exit_code = 1


class CommandError(GcpauseError):
    """A user error on the command line (bad target, unwritable output, ...).

    ``exit_code`` is what ``python -m gcpause`` exits with (2 by default, as
    for argparse's own usage errors).
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
