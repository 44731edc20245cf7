"""The command line's parsers, checks and error mapping, in-process."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

import gcpause
from gcpause._errors import CommandError, GcpauseError
from gcpause.cli import get_argument_parser, main, version_text
from gcpause.cli import run as run_mod


def parse(*argv: str) -> argparse.Namespace:
    return get_argument_parser().parse_args(list(argv))


# -- parsing -----------------------------------------------------------------------

def test_run_options_go_before_the_script_and_the_rest_is_the_programs() -> None:
    args = parse("run", "--json", "out.json", "--top", "3", "app.py", "--json", "x", "-m", "-q")
    assert (args.script, args.json, args.top, args.is_module) == ("app.py", "out.json", 3, False)
    assert args.script_args == ["--json", "x", "-m", "-q"]
    assert args.quiet is False


def test_run_module_form() -> None:
    args = parse("run", "--sites", "-m", "pkg.mod", "a", "--b=c")
    assert (args.is_module, args.script, args.sites) == (True, "pkg.mod", True)
    assert args.script_args == ["a", "--b=c"]


def test_run_defaults() -> None:
    args = parse("run", "app.py")
    assert args.ring_size == run_mod.DEFAULT_RING_SIZE == 65536
    assert args.top == 10 and not args.sites and not args.quiet
    assert (args.json, args.trace, args.html) == (None, None, None)
    assert args.script_args == []


@pytest.mark.parametrize("argv, message", [
    (["run", "--ring-size", "0", "a.py"], "--ring-size: must be between 1 and"),
    (["run", "--ring-size", "x", "a.py"], "--ring-size: not an integer: 'x'"),
    (["run", "--ring-size", str(2**40), "a.py"], "--ring-size: must be between 1 and"),
    (["run", "--top", "-1", "a.py"], "--top: must be 0 or more, got -1"),
    (["run", "--top", "1.5", "a.py"], "--top: not an integer"),
    (["run", "--json"], "--json: expected one argument"),
    (["run", "--no-such-option", "a.py"], "unrecognized arguments: --no-such-option"),
    (["run"], "missing the program to run"),
    (["run", "-m"], "missing the program to run"),
    (["demo", "--documents", "0"], "--documents: must be 1 or more, got 0"),
    (["demo", "--repeat", "many"], "--repeat: not an integer"),
    (["demo", "--budget", "-5"], "--budget: must be 1 or more"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "the following arguments are required: COMMAND"),
])
def test_bad_options_are_usage_errors(argv, message, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_version_names_implementation(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out == version_text()
    assert out.startswith(f"gcpause {gcpause.__version__} (implementation: "
                          f"{gcpause.IMPLEMENTATION}")
    if gcpause.IMPLEMENTATION == "pure":
        assert str(gcpause.IMPORT_ERROR) in out


def test_help_lists_both_commands(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "run" in out and "demo" in out


def test_main_maps_gcpause_errors_to_one_line_and_exit_code(monkeypatch, capsys) -> None:
    def boom(self, args, parser):  # type: ignore[no-untyped-def]
        raise CommandError("it went wrong", exit_code=7)

    monkeypatch.setattr(run_mod.RunCommand, "run", boom)
    assert main(["run", "x.py"]) == 7
    assert capsys.readouterr().err == "gcpause: error: it went wrong\n"

    def boom1(self, args, parser):  # type: ignore[no-untyped-def]
        raise GcpauseError("plain")

    monkeypatch.setattr(run_mod.RunCommand, "run", boom1)
    assert main(["run", "x.py"]) == 1
    assert capsys.readouterr().err == "gcpause: error: plain\n"


def test_command_error_defaults_to_exit_2() -> None:
    assert CommandError("x").exit_code == 2
    assert isinstance(CommandError("x"), GcpauseError)


# -- output paths ------------------------------------------------------------------

def test_output_path_checks(tmp_path: Path) -> None:
    ok = tmp_path / "new.json"
    assert run_mod.check_output_path(str(ok), "--json") == str(ok)
    assert not ok.exists()  # nothing is created by the check
    existing = tmp_path / "old.json"
    existing.write_text("{}")
    assert run_mod.check_output_path(str(existing), "--json") == str(existing)
    with pytest.raises(CommandError, match=r"--html .*: is a directory"):
        run_mod.check_output_path(str(tmp_path), "--html")
    with pytest.raises(CommandError, match=r"--trace .*: directory .*missing does not exist"):
        run_mod.check_output_path(str(tmp_path / "missing" / "t.json"), "--trace")
    with pytest.raises(CommandError, match="--json: empty file name"):
        run_mod.check_output_path("", "--json")


def test_two_outputs_cannot_share_a_file(tmp_path: Path) -> None:
    path = str(tmp_path / "same")
    args = parse("run", "--json", path, "--html", path, "a.py")
    with pytest.raises(CommandError, match="--html .*: same file as --json"):
        run_mod.check_outputs(args)
    args = parse("run", "--json", path, "--trace", path + "2", "a.py")
    assert run_mod.check_outputs(args) == {"json": path, "trace": path + "2"}


# -- targets -----------------------------------------------------------------------

def test_script_targets_are_checked(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot run '.*nope.py': no such file"):
        run_mod.Target(str(tmp_path / "nope.py"), False).validate()
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n    pass\n")
    with pytest.raises(CommandError, match=r"SyntaxError: .*bad.py, line 1\)"):
        run_mod.Target(str(bad), False).validate()
    outside = tmp_path / "ret.py"
    outside.write_text("return 5\n")  # only the compiler (not the parser) rejects this
    with pytest.raises(CommandError, match="SyntaxError: 'return' outside function"):
        run_mod.Target(str(outside), False).validate()
    (tmp_path / "d").mkdir()
    with pytest.raises(CommandError, match="directory has no __main__.py"):
        run_mod.Target(str(tmp_path / "d"), False).validate()
    good = tmp_path / "good.py"
    good.write_text("x = 1\n")
    target = run_mod.Target(str(good), False)
    target.validate()
    assert target.is_file and target.code is not None
    assert target.command == f"python {good}"


def test_module_targets_are_checked(tmp_path: Path, monkeypatch) -> None:
    pkg = tmp_path / "gcp_testpkg_cli"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "broken.py").write_text("x = = 1\n")
    (pkg / "fine.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(CommandError, match="no module named 'gcp_no_such_module'"):
            run_mod.Target("gcp_no_such_module", True).validate()
        with pytest.raises(CommandError, match="no module named 'gcp_testpkg_cli.nope'"):
            run_mod.Target("gcp_testpkg_cli.nope", True).validate()
        with pytest.raises(CommandError, match="is a package without __main__"):
            run_mod.Target("gcp_testpkg_cli", True).validate()
        with pytest.raises(CommandError, match="SyntaxError"):
            run_mod.Target("gcp_testpkg_cli.broken", True).validate()
        with pytest.raises(CommandError, match="cannot run module '.rel'"):
            run_mod.Target(".rel", True).validate()
        target = run_mod.Target("gcp_testpkg_cli.fine", True)
        target.validate()
        assert target.command == "python -m gcp_testpkg_cli.fine"
    finally:
        for name in [m for m in sys.modules if m.startswith("gcp_testpkg_cli")]:
            del sys.modules[name]


def test_exit_code_of_system_exit(capsys) -> None:
    assert run_mod._exit_code(SystemExit()) == 0
    assert run_mod._exit_code(SystemExit(0)) == 0
    assert run_mod._exit_code(SystemExit(4)) == 4
    assert run_mod._exit_code(SystemExit("bye")) == 1
    assert capsys.readouterr().err == "bye\n"


def test_user_traceback_hides_runner_frames() -> None:
    code = compile("def user():\n    raise ValueError('x')\nuser()\n", "<user>", "exec")
    try:
        run_mod._run_file("<user>", code)
    except ValueError as exc:
        # the first frame is this test's (the runner's caller in real use)
        tb = run_mod._user_traceback(exc.__traceback__.tb_next)
    assert tb is not None
    assert (tb.tb_frame.f_code.co_filename, tb.tb_frame.f_code.co_name) == ("<user>", "<module>")


# -- in process --------------------------------------------------------------------

def test_main_run_in_process_restores_argv_and_path(tmp_path: Path, capsys) -> None:
    script = tmp_path / "prog.py"
    script.write_text("import sys, gc\n"
                      "print(sys.argv, sys.path[0] == %r, __name__)\n"
                      "gc.collect(0)\n"
                      "sys.exit(5)\n" % str(tmp_path))
    argv, path = sys.argv[:], sys.path[:]
    try:
        code = main(["run", "--top", "1", str(script), "a", "--top"])
    finally:
        gcpause.reset()
    assert code == 5
    assert (sys.argv, sys.path) == (argv, path)
    assert not gcpause.is_recording()
    out, err = capsys.readouterr()
    assert out == f"[{str(script)!r}, 'a', '--top'] True __main__\n"
    assert f"gcpause report: python {script} a --top (exit code 5)" in err


# -- demo pieces -------------------------------------------------------------------

class _Tty:
    def __init__(self, tty: bool) -> None:
        self.tty, self.text = tty, ""

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("tty", [True, False])
def test_demo_progress_only_on_a_terminal(monkeypatch, tty: bool) -> None:
    from gcpause.cli.demo import _Progress

    fake = _Tty(tty)
    monkeypatch.setattr(sys, "stderr", fake)
    progress = _Progress()
    progress.show("step 1 of 2")
    progress.show("step 2")
    progress.clear()
    if tty:
        assert fake.text == "\rstep 1 of 2\rstep 2     \r      \r"
    else:
        assert fake.text == ""


def test_demo_comparison_table_ratios() -> None:
    from gcpause.cli.demo import comparison_table

    base = {"mode": "gc_on", "label": "gc on", "median_ns": 2_000_000,
            "collections": [5, 1, 1], "total_pause_ns": 900_000, "max_pause_ns": 500_000,
            "peak_rss_bytes": 50 * 2**20}
    other = dict(base, mode="paused", label="paused()", median_ns=1_000_000,
                 collections=[0, 0, 0], total_pause_ns=0, max_pause_ns=0,
                 peak_rss_bytes=None)
    lines = comparison_table([base, other]).splitlines()
    assert lines[0].split() == ["mode", "time/invocation", "vs", "gc", "on", "gen", "0", "gen",
                                "1", "gen", "2", "total", "pause", "longest", "peak", "RSS"]
    assert lines[1].split() == ["gc", "on", "2.00", "ms", "1.00", "5", "1", "1", "900", "µs",
                                "500", "µs", "50", "MiB"]
    assert lines[2].split() == ["paused()", "1.00", "ms", "0.50", "0", "0", "0", "0", "ns",
                                "-", "-"]
