"""``python -m gcpause run``: run a program as ``python`` would, report its GC pauses.

The target is checked before anything runs (missing file, syntax error,
unknown module, unwritable output path: one line, exit 2).  The program
then sees the ``sys.argv``, ``__main__`` and ``sys.path[0]`` that
``python script.py`` or ``python -m module`` would give it; its exit code is
ours, and an uncaught exception prints its usual traceback (without
gcpause's or runpy's frames) and exits 1.  The report covers the program's
main code: collections in threads still running after it returns, in
``atexit`` handlers or at interpreter shutdown are not included, and
``os._exit()`` or a fatal signal skips the report.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import runpy
import sys
import zipfile
from types import TracebackType
from typing import Any, Optional

from .._errors import CommandError

DEFAULT_RING_SIZE = 65536
DEFAULT_TOP = 10


def _ring_size(text: str) -> int:
    from .. import _backend as backend

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 1 <= value <= backend.RING_MAX:
        raise argparse.ArgumentTypeError(
            f"must be between 1 and {backend.RING_MAX}, got {value}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def check_output_path(path: str, option: str) -> str:
    """Raise CommandError unless ``path`` can be created or overwritten as a file.

    Checked before the program runs, so a typo does not cost a whole run.
    Nothing is created.
    """
    if not path:
        raise CommandError(f"{option}: empty file name")
    if os.path.isdir(path):
        raise CommandError(f"{option} {path}: is a directory")
    if os.path.exists(path):
        if not os.access(path, os.W_OK):
            raise CommandError(f"{option} {path}: file is not writable")
        return path
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise CommandError(f"{option} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CommandError(f"{option} {path}: directory {parent} is not writable")
    return path


def check_outputs(args: argparse.Namespace) -> dict[str, str]:
    """``{kind: path}`` for the requested output files, each checked; distinct paths."""
    outputs: dict[str, str] = {}
    seen: dict[str, str] = {}
    for kind in ("json", "trace", "html"):
        path = getattr(args, kind, None)
        if path is None:
            continue
        option = f"--{kind}"
        check_output_path(path, option)
        key = os.path.realpath(path)
        if key in seen:
            raise CommandError(f"{option} {path}: same file as {seen[key]}")
        seen[key] = option
        outputs[kind] = path
    return outputs


class Target:
    """What to run: a script path (file, directory or zip) or a module name."""

    def __init__(self, name: str, is_module: bool) -> None:
        self.name = name
        self.is_module = is_module
        self.is_file = False
        self.code: Any = None

    def validate(self) -> None:
        """Raise CommandError if running the target would fail before any of its code runs."""
        if self.is_module:
            self._validate_module()
        else:
            self._validate_script()

    def _validate_script(self) -> None:
        path = self.name
        if not os.path.exists(path):
            raise CommandError(f"cannot run {path!r}: no such file")
        if os.path.isdir(path):
            main = os.path.join(path, "__main__.py")
            if not os.path.isfile(main):
                raise CommandError(f"cannot run {path!r}: directory has no __main__.py")
            _compile_file(main, path)
            return
        if zipfile.is_zipfile(path):
            return
        self.is_file = True
        self.code = _compile_file(path, path)

    def _validate_module(self) -> None:
        name = self.name
        spec = _find_spec(name)
        if spec.submodule_search_locations is not None:  # a package: run its __main__
            spec = _find_spec(f"{name}.__main__", package=name)
        loader: Any = spec.loader
        get_code = getattr(loader, "get_code", None)
        if get_code is None:
            return
        try:
            get_code(spec.name)
        except SyntaxError as exc:
            raise CommandError(f"cannot run module {name!r}: {_syntax_error_line(exc)}") \
                from None
        except (ImportError, OSError, ValueError) as exc:
            raise CommandError(f"cannot run module {name!r}: {exc}") from None

    def run(self) -> None:
        """Run the program as ``__main__`` with the current ``sys.argv``."""
        if self.is_module:
            runpy.run_module(self.name, run_name="__main__", alter_sys=True)
        elif self.is_file:
            _run_file(self.name, self.code)
        else:  # a directory or zip file with a __main__.py
            runpy.run_path(self.name, run_name="__main__")

    @property
    def command(self) -> str:
        return f"python -m {self.name}" if self.is_module else f"python {self.name}"


def _run_file(path: str, code: Any) -> None:
    """Run a source file as ``python path`` does: a fresh ``__main__`` module whose
    ``__file__`` is absolute (3.9+) while ``sys.argv[0]`` stays as typed.

    (``runpy.run_path`` would set ``sys.argv[0]`` to the path it is given.)
    """
    import builtins
    import types
    from importlib.machinery import SourceFileLoader

    abspath = os.path.abspath(path)
    module = types.ModuleType("__main__")
    module.__dict__.update(__file__=abspath, __builtins__=builtins, __cached__=None,
                           __loader__=SourceFileLoader("__main__", abspath), __spec__=None,
                           __package__=None)
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = module
    try:
        exec(code, module.__dict__)
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


def _find_spec(name: str, package: Optional[str] = None) -> Any:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as exc:
        raise CommandError(f"cannot run module {name!r}: {exc}") from None
    except Exception as exc:  # a parent package raised while being imported
        raise CommandError(f"cannot run module {name!r}: importing its package raised "
                           f"{type(exc).__name__}: {exc}", exit_code=1) from None
    if spec is None:
        if package is not None:
            raise CommandError(f"cannot run module {package!r}: it is a package without "
                               "__main__ module")
        raise CommandError(f"cannot run module {name!r}: no module named {name!r}")
    return spec


def _syntax_error_line(exc: SyntaxError) -> str:
    where = f"{exc.filename}, line {exc.lineno}" if exc.lineno else str(exc.filename)
    return f"{type(exc).__name__}: {exc.msg} ({where})"


def _compile_file(path: str, shown: str) -> Any:
    """The code object of a source file, compiled as ``python path`` would."""
    try:
        with open(path, "rb") as f:
            source = f.read()
        return compile(source, os.path.abspath(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise CommandError(f"cannot run {shown!r}: {_syntax_error_line(exc)}") from None
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot run {shown!r}: {exc}") from None


def _exit_code(exc: SystemExit) -> int:
    """What the interpreter would exit with for an uncaught SystemExit (and print)."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stdout.flush()
    print(code, file=sys.stderr)
    return 1


_HIDDEN_MODULES = frozenset({__name__, "runpy"})


def _user_traceback(tb: Optional[TracebackType]) -> Optional[TracebackType]:
    """``tb`` without the leading frames of gcpause's runner and runpy."""
    while tb is not None and tb.tb_frame.f_globals.get("__name__") in _HIDDEN_MODULES:
        tb = tb.tb_next
    return tb


def _report_exception(exc: BaseException) -> None:
    """Print ``exc`` as the interpreter would for an uncaught exception."""
    sys.stdout.flush()
    exc = exc.with_traceback(_user_traceback(exc.__traceback__))
    sys.excepthook(type(exc), exc, exc.__traceback__)


class RunCommand:
    """Run a Python script or module and report every GC pause it had."""

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.usage = ("python -m gcpause run [options] script.py [args ...]\n"
                        "       python -m gcpause run [options] -m module [args ...]")
        parser.description = (
            "Run a program as 'python script.py' or 'python -m module' would, recording "
            "every cyclic-GC pause, and print a report to stderr when its main code ends "
            "(also after an exception or sys.exit). Options go before the script; "
            "everything after it is the program's own argv.")
        parser.add_argument("-m", dest="is_module", action="store_true",
                            help="run a library module as a script, like 'python -m'")
        parser.add_argument("--ring-size", type=_ring_size, default=DEFAULT_RING_SIZE,
                            metavar="N",
                            help="keep the newest N pause records for the per-pause "
                                 f"sections (default {DEFAULT_RING_SIZE}); the summary "
                                 "always covers every pause")
        parser.add_argument("--sites", action="store_true",
                            help="record where Python code was when each collection "
                                 "started, and report the top trigger sites")
        parser.add_argument("--top", type=_count, default=DEFAULT_TOP, metavar="N",
                            help=f"show the N longest pauses and sites (default "
                                 f"{DEFAULT_TOP})")
        parser.add_argument("--json", metavar="FILE",
                            help="write the summary and every record as JSON")
        parser.add_argument("--trace", metavar="FILE",
                            help="write a Chrome Trace Event file (Perfetto, "
                                 "chrome://tracing)")
        parser.add_argument("--html", metavar="FILE",
                            help="write a self-contained HTML report")
        parser.add_argument("-q", "--quiet", action="store_true",
                            help="do not print the text report")
        parser.add_argument("script", metavar="script.py | module", nargs="?",
                            help="the program to run")
        parser.add_argument("script_args", nargs=argparse.REMAINDER, metavar="args",
                            help="arguments passed to the program")

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        if args.script is None:
            parser.error("missing the program to run: script.py or -m module")
        outputs = check_outputs(args)
        target = Target(args.script, args.is_module)
        target.validate()

        # Everything the report needs is imported now: the program may change
        # sys.path or shadow stdlib names (a json.py beside the script).
        import gcpause

        from .. import report
        from ..report import html as html_report
        from ..report import json as json_report
        from ..report import text as text_report
        from ..report import trace as trace_report

        if args.sites and not _supports_sites(gcpause):
            raise CommandError("--sites: this gcpause build cannot capture trigger sites "
                               "(gcpause.start() has no 'sites' argument)")

        environment = report.environment()  # the GC settings the program starts with
        cwd = os.getcwd()
        saved_argv, saved_path = sys.argv[:], sys.path[:]
        sys.argv = [args.script, *args.script_args]
        safe_path = bool(getattr(sys.flags, "safe_path", False) or sys.flags.isolated)
        if not args.is_module and sys.path and not safe_path:
            if target.is_file:
                sys.path[0] = os.path.dirname(os.path.realpath(args.script))
            else:  # directory or zip: runpy puts the target itself first
                del sys.path[0]

        if args.sites:
            gcpause.start(args.ring_size, sites=True)
        else:
            gcpause.start(args.ring_size)
        try:
            exit_code = 0
            try:
                target.run()
            except SystemExit as exc:
                exit_code = _exit_code(exc)
            except KeyboardInterrupt as exc:
                _report_exception(exc)
                exit_code = 130
            except BaseException as exc:  # the program's own uncaught exception
                _report_exception(exc)
                exit_code = 1
            program_argv = sys.argv[:]
        finally:
            gcpause.stop()
            sys.argv = saved_argv
            sys.path[:] = saved_path

        stats = gcpause.stats()
        records = gcpause.records()
        meta = {
            "command": " ".join([target.command, *args.script_args]),
            "argv": program_argv,
            "module": args.script if args.is_module else None,
            "script": None if args.is_module else args.script,
            "exit_code": exit_code,
            "cwd": cwd,
            "ring_size": args.ring_size,
            "top": args.top,
            "environment": environment,
        }
        summary = report.Summary(stats, records, top=args.top, sites=args.sites, meta=meta)
        sys.stdout.flush()
        if not args.quiet:
            sys.stderr.write("\n" + text_report.render(summary))
        writers = {"json": json_report.write, "trace": trace_report.write,
                   "html": html_report.write}
        failed = False
        for kind, path in outputs.items():
            try:
                writers[kind](summary, path)
            except OSError as exc:
                print(f"gcpause: error: cannot write --{kind} {path}: {exc.strerror or exc}",
                      file=sys.stderr)
                failed = True
            else:
                if not args.quiet:
                    print(f"gcpause: wrote {path}", file=sys.stderr)
        sys.stderr.flush()
        if failed and exit_code == 0:
            return 1
        return exit_code


def _supports_sites(gcpause: Any) -> bool:
    import inspect

    try:
        return "sites" in inspect.signature(gcpause.start).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False


__all__ = ["RunCommand", "Target", "check_output_path", "check_outputs"]
