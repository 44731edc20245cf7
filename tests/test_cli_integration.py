"""``python -m gcpause`` in a subprocess: the program behaves as under ``python``, the
report and output files agree with each other, and every user error is one line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

import gcpause
from gcpause.report import fmt_ns, fmt_share
from gcpause.report import json as json_report

from .test_report_json import validate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(gcpause.__file__)))


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    env.pop("PYTHONSTARTUP", None)
    return env


def python(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=str(cwd), env=_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=300, check=False)


def gcpause_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return python("-m", "gcpause", *args, cwd=cwd)


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


INTROSPECT = """
    import sys
    m = sys.modules["__main__"]
    print(repr((sys.argv, __name__, sys.path[0], __file__, __package__,
                __spec__ and __spec__.name, m.__dict__ is globals(),
                type(__loader__).__name__)))
"""


# -- the program sees what python would give it -------------------------------------------

def test_script_sees_the_same_argv_main_and_path_as_under_python(tmp_path: Path) -> None:
    # GIVEN a script in a subdirectory that prints what it sees
    write(tmp_path / "sub" / "prog.py", INTROSPECT)
    args = ["sub/prog.py", "a", "--json", "x", "-m", "--", "-q"]
    # WHEN it runs under python and under gcpause
    plain = python(*args, cwd=tmp_path)
    ours = gcpause_cli("run", "-q", *args, cwd=tmp_path)
    # THEN it prints the same
    assert plain.returncode == ours.returncode == 0, ours.stderr
    assert ours.stdout == plain.stdout
    assert "['sub/prog.py', 'a', '--json', 'x', '-m', '--', '-q']" in ours.stdout
    assert ours.stderr == ""


def test_module_sees_the_same_as_under_python_m(tmp_path: Path) -> None:
    write(tmp_path / "gcp_pkg" / "__init__.py", "")
    write(tmp_path / "gcp_pkg" / "tool.py", INTROSPECT)
    write(tmp_path / "gcp_pkg" / "__main__.py", INTROSPECT)
    for target in ("gcp_pkg.tool", "gcp_pkg"):
        plain = python("-m", target, "x", "--top", "1", cwd=tmp_path)
        ours = gcpause_cli("run", "-q", "-m", target, "x", "--top", "1", cwd=tmp_path)
        assert plain.returncode == ours.returncode == 0, ours.stderr
        assert ours.stdout == plain.stdout, target


def test_directory_target_runs_its_main(tmp_path: Path) -> None:
    write(tmp_path / "app" / "__main__.py", "import sys; print('dir', sys.argv[1:])")
    ours = gcpause_cli("run", "-q", "app", "1", cwd=tmp_path)
    assert (ours.returncode, ours.stdout) == (0, "dir ['1']\n")


@pytest.mark.parametrize("body, code", [
    ("import sys; sys.exit(3)", 3),
    ("import sys; sys.exit(0)", 0),
    ("import sys; sys.exit(None)", 0),
    ("import sys; sys.exit('bye now')", 1),
    ("raise SystemExit(7)", 7),
])
def test_exit_codes_are_the_programs(tmp_path: Path, body: str, code: int) -> None:
    write(tmp_path / "p.py", body)
    plain = python("p.py", cwd=tmp_path)
    ours = gcpause_cli("run", "-q", "p.py", cwd=tmp_path)
    assert plain.returncode == ours.returncode == code
    assert ours.stderr == plain.stderr


def test_uncaught_exception_prints_the_programs_traceback_only(tmp_path: Path) -> None:
    write(tmp_path / "helper.py", """
        def fail(n):
            try:
                {}[n]
            except KeyError as exc:
                raise ValueError(f"bad {n}") from exc
    """)
    write(tmp_path / "p.py", """
        import helper
        print("before")
        helper.fail(3)
    """)
    plain = python("p.py", cwd=tmp_path)
    ours = gcpause_cli("run", "-q", "p.py", cwd=tmp_path)
    assert plain.returncode == ours.returncode == 1
    assert ours.stdout == plain.stdout == "before\n"
    assert ours.stderr == plain.stderr
    assert "gcpause" not in ours.stderr and "runpy" not in ours.stderr


def test_report_is_printed_after_an_exception_and_after_sys_exit(tmp_path: Path) -> None:
    write(tmp_path / "boom.py", "import gc; gc.collect(0); raise RuntimeError('boom')")
    write(tmp_path / "leave.py", "import gc, sys; gc.collect(0); sys.exit(4)")
    ours = gcpause_cli("run", "boom.py", cwd=tmp_path)
    assert ours.returncode == 1
    assert ours.stderr.index("RuntimeError: boom") < ours.stderr.index("gcpause report:")
    assert "(exit code 1)" in ours.stderr
    ours = gcpause_cli("run", "leave.py", cwd=tmp_path)
    assert ours.returncode == 4
    assert "gcpause report: python leave.py (exit code 4)" in ours.stderr


def test_keyboard_interrupt_exits_130(tmp_path: Path) -> None:
    write(tmp_path / "p.py", "raise KeyboardInterrupt")
    ours = gcpause_cli("run", "-q", "p.py", cwd=tmp_path)
    assert ours.returncode == 130
    assert ours.stderr.rstrip().endswith("KeyboardInterrupt")


def test_script_may_shadow_stdlib_modules_the_report_uses(tmp_path: Path) -> None:
    # (beside the script, which becomes sys.path[0]; the cwd is python -m gcpause's own)
    write(tmp_path / "app" / "json.py", "raise ImportError('shadowed json imported')")
    write(tmp_path / "app" / "html.py", "raise ImportError('shadowed html imported')")
    write(tmp_path / "app" / "p.py", "import gc; gc.collect(0); print('ok')")
    out = tmp_path / "out"
    ours = gcpause_cli("run", "--json", f"{out}.json", "--html", f"{out}.html", "--trace",
                       f"{out}.trace.json", "app/p.py", cwd=tmp_path)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == "ok\n"
    json.loads(Path(f"{out}.json").read_text())


# -- the report and the output files ------------------------------------------------------

WORKLOAD = """
    import gc, sys, threading
    gc.disable()

    class Node:
        def __init__(self):
            self.me = self
            self.pad = [0] * 8

    def churn(n):
        for _ in range(n):
            Node()

    for g in (0, 0, 0, 1, 1, 2):
        churn(2000)
        gc.collect(g)

    def worker():
        churn(1000)
        gc.collect(1)

    t = threading.Thread(target=worker, name="worker")
    t.start()
    t.join()
    print("done")
"""


def _table_row(report: str, label: str) -> List[str]:
    for line in report.splitlines():
        if line.startswith(f"  {label} "):
            return re.split(r"\s{2,}", line.strip())
    raise AssertionError(f"no {label!r} row in:\n{report}")


def test_outputs_agree_with_each_other(tmp_path: Path) -> None:
    # GIVEN a program with explicit collections in two threads
    write(tmp_path / "work.py", WORKLOAD)
    # WHEN it runs with every output
    ours = gcpause_cli("run", "--json", "r.json", "--trace", "t.json", "--html", "r.html",
                       "--top", "3", "work.py", cwd=tmp_path)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == "done\n"
    report = ours.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    trace = json.loads((tmp_path / "t.json").read_text())

    # THEN the JSON is valid against the schema
    schema = json_report.load_schema()
    assert validate(doc, schema, schema) == []
    summary = doc["summary"]
    records = doc["records"]
    assert summary["overwritten"] == 0
    assert summary["overall"]["count"] == len(records)
    for g in range(3):
        assert summary["generations"][g]["count"] == sum(
            1 for r in records if r["generation"] == g)
    # the program's own collections are all there
    assert summary["generations"][0]["count"] >= 3
    assert summary["generations"][1]["count"] >= 3
    assert summary["generations"][2]["count"] >= 1
    assert summary["overall"]["total_ns"] == sum(r["duration_ns"] for r in records)
    assert summary["overall"]["max_ns"] == max(r["duration_ns"] for r in records)
    assert len({r["thread_id"] for r in records}) == 2

    # and the text report shows the same figures
    for label, row in [*((f"gen {g}", summary["generations"][g]) for g in range(3)),
                       ("all", summary["overall"])]:
        assert _table_row(report, label) == [
            label, str(row["count"]), fmt_ns(row["total_ns"]), fmt_ns(row["mean_ns"]),
            fmt_ns(row["p50_ns"]), fmt_ns(row["p90_ns"]), fmt_ns(row["p99_ns"]),
            fmt_ns(row["max_ns"]), str(row["collected"]), str(row["uncollectable"])]
    assert (f"{summary['overall']['count']} collections, total pause "
            f"{fmt_ns(summary['overall']['total_ns'])} = {fmt_share(summary['gc_share'])}"
            in report)
    longest = sorted(records, key=lambda r: -r["duration_ns"])[0]
    assert re.search(rf"\n\s+1\s+{re.escape(fmt_ns(longest['duration_ns']))}\s+"
                     rf"{longest['generation']}\s+{longest['offset_ns'] / 1e9:.3f} s", report)
    for name in ("r.json", "t.json", "r.html"):
        assert f"gcpause: wrote {name}" in report

    # and the trace has one complete event per collection, on the right threads
    complete = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert len(complete) == len(records)
    for e, r in zip(complete, records):
        assert e["ts"] == pytest.approx(r["offset_ns"] / 1000)
        assert e["dur"] == pytest.approx(r["duration_ns"] / 1000)
        assert e["args"]["generation"] == r["generation"]
        assert e["args"]["collected"] == r["collected"]
    assert len({e["tid"] for e in complete}) == 2
    thread_names = {e["tid"]: e["args"]["name"] for e in trace["traceEvents"]
                    if e["name"] == "thread_name"}
    assert set(thread_names) == {e["tid"] for e in complete}
    assert "MainThread" in thread_names.values()

    # and the HTML has the same number of timeline marks
    page = (tmp_path / "r.html").read_text()
    timeline = page.split('aria-label="timeline of GC pauses">')[1].split("</svg>")[0]
    assert timeline.count("<rect") == len(records)


def test_quiet_prints_nothing_but_still_writes(tmp_path: Path) -> None:
    write(tmp_path / "p.py", "import gc; gc.collect()")
    ours = gcpause_cli("run", "-q", "--json", "r.json", "p.py", cwd=tmp_path)
    assert (ours.returncode, ours.stdout, ours.stderr) == (0, "", "")
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["overall"]["count"] >= 1


def test_small_ring_reports_overwritten_records(tmp_path: Path) -> None:
    write(tmp_path / "p.py", "import gc\nfor _ in range(20): gc.collect(0)\n")
    ours = gcpause_cli("run", "--ring-size", "4", "--json", "r.json", "p.py", cwd=tmp_path)
    assert ours.returncode == 0, ours.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    assert len(doc["records"]) == 4
    n = doc["summary"]["overall"]["count"]
    assert n >= 20 and doc["summary"]["overwritten"] == n - 4
    assert f"the ring kept the newest 4 of {n} records" in ours.stderr


def _supports_sites() -> bool:
    from gcpause.cli.run import _supports_sites as supports

    return supports(gcpause)


def test_sites_report_the_code_that_triggered_collections(tmp_path: Path) -> None:
    write(tmp_path / "p.py", """
        import gc

        class Node:
            def __init__(self):
                self.me = self

        def allocate():
            for _ in range(200_000):
                Node()

        allocate()
    """)
    ours = gcpause_cli("run", "--sites", "--json", "r.json", "p.py", cwd=tmp_path)
    if not _supports_sites():
        assert ours.returncode == 2
        assert ours.stderr.strip().splitlines() == [
            "gcpause: error: --sites: this gcpause build cannot capture trigger sites "
            "(gcpause.start() has no 'sites' argument)"]
        return
    assert ours.returncode == 0, ours.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["sites_enabled"] is True
    assert doc["top_sites"], "automatic collections ran in allocate(): some site expected"
    top = doc["top_sites"][0]
    assert "p.py:" in top["site"]
    assert "top trigger sites by total pause" in ours.stderr
    sites = [r["site"] for r in doc["records"] if r["site"]]
    assert sum(s["count"] for s in doc["top_sites"]) <= len(sites)


# -- user errors: one line, exit 2, nothing run, nothing written ----------------------------

MARKER_SCRIPT = "open('ran.marker', 'w').close()\n"


def _one_line_error(proc: subprocess.CompletedProcess[str], fragment: str) -> None:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("gcpause: error: ") and fragment in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("argv, fragment", [
    (["run", "missing.py"], "cannot run 'missing.py': no such file"),
    (["run", "syntax.py"], "SyntaxError"),
    (["run", "-m", "gcp_no_such_module_xyz"], "no module named 'gcp_no_such_module_xyz'"),
    (["run", "-m", "gcp_nomain"], "'gcp_nomain': it is a package without __main__ module"),
    (["run", "--json", "nodir/r.json", "ok.py"], "--json nodir/r.json: directory"),
    (["run", "--html", ".", "ok.py"], "--html .: is a directory"),
    (["run", "--trace", "x.json", "--json", "x.json", "ok.py"], "same file as"),
    (["demo", "--json", "nodir/d.json"], "--json nodir/d.json: directory"),
])
def test_user_errors_are_one_line_and_exit_2(tmp_path: Path, argv: List[str],
                                             fragment: str) -> None:
    write(tmp_path / "syntax.py", "print('never'\n" + MARKER_SCRIPT)
    write(tmp_path / "ok.py", MARKER_SCRIPT)
    write(tmp_path / "gcp_nomain" / "__init__.py", "")
    before = set(os.listdir(tmp_path))
    proc = gcpause_cli(*argv, cwd=tmp_path)
    _one_line_error(proc, fragment)
    assert proc.stdout == ""
    assert set(os.listdir(tmp_path)) == before  # nothing ran, nothing written


@pytest.mark.parametrize("argv, fragment", [
    (["run", "--ring-size", "0", "ok.py"], "argument --ring-size: must be between 1 and"),
    (["run", "--top", "ten", "ok.py"], "argument --top: not an integer: 'ten'"),
    (["run"], "missing the program to run"),
    (["demo", "--documents", "-3"], "argument --documents: must be 1 or more"),
    (["nope"], "invalid choice"),
])
def test_bad_option_values_are_usage_errors(tmp_path: Path, argv: List[str],
                                            fragment: str) -> None:
    write(tmp_path / "ok.py", MARKER_SCRIPT)
    proc = gcpause_cli(*argv, cwd=tmp_path)
    assert proc.returncode == 2
    assert fragment in proc.stderr and proc.stderr.startswith("usage:")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "ran.marker").exists()


def test_unwritable_output_after_the_run_is_one_line(tmp_path: Path) -> None:
    # The directory disappears while the program runs: the run still reports, exit 1.
    write(tmp_path / "p.py", "import shutil; shutil.rmtree('out')")
    (tmp_path / "out").mkdir()
    proc = gcpause_cli("run", "-q", "--json", "out/r.json", "p.py", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("gcpause: error: cannot write --json out/r.json: ")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_version(tmp_path: Path) -> None:
    proc = gcpause_cli("--version", cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.startswith(f"gcpause {gcpause.__version__} (implementation: ")
    env = _env()
    env["GCPAUSE_NO_EXTENSIONS"] = "1"
    env.pop("GCPAUSE_REQUIRE_C", None)
    pure = subprocess.run([sys.executable, "-m", "gcpause", "--version"], env=env,
                          stdout=subprocess.PIPE, text=True, check=False)
    assert "(implementation: pure; C extension unavailable: GCPAUSE_NO_EXTENSIONS is set)" \
        in pure.stdout


# -- demo ---------------------------------------------------------------------------------

def _demo_json(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str],
                                                     Optional[Dict[str, Any]]]:
    proc = gcpause_cli("demo", "--documents", "40", "--repeat", "2", "--json", "d.json",
                       *extra, cwd=tmp_path)
    path = tmp_path / "d.json"
    return proc, (json.loads(path.read_text()) if path.exists() else None)


def test_demo_runs_every_mode_to_completion(tmp_path: Path) -> None:
    proc, doc = _demo_json(tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "gcpause report: gcpause demo (gc on" in out
    for label in ("gc on", "paused()", "young_only()", "budget(4_000)", "freeze() + gc on"):
        assert re.search(rf"\n  {re.escape(label)}\s+\d", out), label
    assert re.search(r"parser (orjson \S+|json \(stdlib)", out)
    assert proc.stderr == ""  # no progress line when stderr is not a terminal
    assert doc is not None
    assert [m["mode"] for m in doc["modes"]] == ["gc_on", "paused", "young_only", "budget",
                                                 "freeze"]
    for m in doc["modes"]:
        assert len(m["times_ns"]) == 2 and all(t > 0 for t in m["times_ns"])
        assert m["peak_rss_bytes"] is None or m["peak_rss_bytes"] > 1_000_000
        assert len(m["collections"]) == 3 and all(c >= 0 for c in m["collections"])
        assert m["total_pause_ns"] >= m["max_pause_ns"] >= 0
    assert doc["budget"] == 4_000 == 100 * doc["documents"]
    assert doc["modes"][4]["frozen"] > 40  # INIT's parsed documents were frozen
    schema = json_report.load_schema()
    assert validate(doc["gc_on_report"], schema, schema) == []
