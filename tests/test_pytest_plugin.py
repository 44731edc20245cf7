"""The pytest plugin, run through pytester: option, per-phase figures, summary, fixture.

Inner runs load the plugin with ``-p gcpause.pytest_plugin`` and with entry-point
autoloading off, so they behave the same whether or not the ``pytest11`` entry
point is installed.  Counts are exact because the inner runs happen with the
collector disabled: only the inner tests' explicit ``gc.collect(g)`` calls run.
"""

from __future__ import annotations

import gc
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

import gcpause
from gcpause.pytest_plugin import GCPauseFixture

pytest_plugins = ("pytester",)

PLUGIN = ("-p", "gcpause.pytest_plugin")


@pytest.fixture(autouse=True)
def _no_autoload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def _hooks_installed() -> bool:
    return any(cb in gc.callbacks for cb in gcpause._backend.hooks())


_UNITS = {"ns": 1, "µs": 1e3, "ms": 1e6, "s": 1e9}


def _ns(text: str) -> float:
    value, unit = text.split()
    return float(value) * _UNITS[unit]


def _summary_rows(lines: list[str]) -> list[tuple[float, float, str, str]]:
    """(total_ns, longest_ns, gen0/1/2, nodeid) of each listed test, in output order."""
    row = re.compile(r"^\s*([\d.]+ \S+)\s+([\d.]+ \S+)\s+(\d+/\d+/\d+)\s+(\S+)")
    start = next(i for i, line in enumerate(lines) if "gcpause: GC pauses" in line)
    out = []
    for line in lines[start:]:
        m = row.match(line)
        if m:
            out.append((_ns(m[1]), _ns(m[2]), m[3], m[4]))
    return out


INNER_TESTS = """
import gc

def test_full():
    gc.collect(2)
    gc.collect(2)
    gc.collect(2)

def test_young():
    gc.collect(0)

def test_nothing():
    pass
"""


def test_plugin_module_imports_nothing_heavy_and_installs_no_hook() -> None:
    code = ("import gc, sys; import gcpause.pytest_plugin; "
            "heavy = [m for m in ('gcpause.control', 'gcpause.prometheus', 'gcpause.otel', "
            "'prometheus_client', 'opentelemetry') if m in sys.modules]; "
            "print(heavy, len(gc.callbacks))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == "[] 0"


def test_options_are_listed_in_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*PLUGIN, "--help")
    result.stdout.fnmatch_lines(["*--gcpause *", "*--gcpause-top=N*"])


def test_without_option_the_plugin_records_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import gc
        import gcpause

        def test_inert(request):
            assert not request.config.pluginmanager.has_plugin("gcpause-session")
            assert not any(cb in gc.callbacks for cb in gcpause._backend.hooks())
            gc.collect(2)
    """)
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(passed=1)
    assert "gcpause" not in result.stdout.str()
    assert not _hooks_installed()


def test_enabled_summary_lists_tests_with_collections_longest_first(
        pytester: pytest.Pytester, gc_off: None) -> None:
    pytester.makepyfile(INNER_TESTS)
    result = pytester.runpytest(*PLUGIN, "--gcpause")
    result.assert_outcomes(passed=3)
    lines = result.stdout.lines
    result.stdout.fnmatch_lines([
        "*gcpause: recording GC pauses per test phase (implementation *)",
        "*= gcpause: GC pauses =*",
        ("this process: * collections (gen0 *, gen1 *, gen2 *), * paused (*% of * s); "
         "* inside tests"),
        "slowest 2 of 2 tests with collections, by total GC pause (setup + call + teardown):",
    ])
    rows = _summary_rows(lines)
    assert {(gens, node.split("::")[-1]) for _, _, gens, node in rows} == {
        ("0/0/3", "test_full"), ("1/0/0", "test_young")}
    totals = [total for total, _, _, _ in rows]
    assert totals == sorted(totals, reverse=True)
    assert all(0 < longest <= total for total, longest, _, _ in rows)
    assert not _hooks_installed()


def test_gcpause_top_limits_the_list(pytester: pytest.Pytester, gc_off: None) -> None:
    pytester.makepyfile(INNER_TESTS)
    result = pytester.runpytest(*PLUGIN, "--gcpause", "--gcpause-top", "1")
    result.stdout.fnmatch_lines(["slowest 1 of 2 tests with collections, *"])
    assert len(_summary_rows(result.stdout.lines)) == 1


def test_gcpause_top_zero_prints_only_the_process_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(INNER_TESTS)
    result = pytester.runpytest(*PLUGIN, "--gcpause", "--gcpause-top=0")
    result.stdout.fnmatch_lines(["*= gcpause: GC pauses =*", "this process: *"])
    assert "slowest" not in result.stdout.str()


def test_negative_gcpause_top_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(INNER_TESTS)
    result = pytester.runpytest(*PLUGIN, "--gcpause", "--gcpause-top=-1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--gcpause-top must be >= 0, got -1*"])


def test_no_collection_in_tests_is_reported(pytester: pytest.Pytester, gc_off: None) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest(*PLUGIN, "--gcpause")
    result.stdout.fnmatch_lines(["no collections inside tests"])


def test_each_phase_is_recorded_separately_in_user_properties(
        pytester: pytest.Pytester, gc_off: None) -> None:
    pytester.makepyfile("""
        import gc
        import pytest

        @pytest.fixture
        def heavy():
            gc.collect(2)
            yield
            gc.collect(1)
            gc.collect(1)

        def test_phases(heavy):
            gc.collect(0)
    """)
    reprec = pytester.inline_run(*PLUGIN, "--gcpause")
    reprec.assertoutcome(passed=1)
    teardown = next(r for r in reprec.getreports("pytest_runtest_logreport")
                    if r.when == "teardown")
    props = dict(teardown.user_properties)
    counts = {when: tuple(props[f"gcpause_{when}"][:3])
              for when in ("setup", "call", "teardown")}
    assert counts == {"setup": (0, 0, 1), "call": (1, 0, 0), "teardown": (0, 2, 0)}
    for when in ("setup", "call", "teardown"):
        total, longest = props[f"gcpause_{when}"][3:]
        assert 0 < longest <= total


FIXTURE_TESTS = """
import gc
import pytest

@pytest.fixture
def heavy():
    gc.collect(2)

def test_counts_only_the_call_phase(gcpause, heavy):
    gcpause.assert_no_collection(2)
    gc.collect(0)
    gc.collect(1)
    gcpause.assert_no_collection(2)
    assert [g.count for g in gcpause.stats.generations] == [1, 1, 0]
    assert [p.generation for p in gcpause.pauses] == [0, 1]
    gc.collect(0)
    assert [p.generation for p in gcpause.pauses] == [0, 1, 0]

def test_young_collections_fail_generation_0(gcpause):
    gc.collect(0)
    gcpause.assert_no_collection(0)

def test_full_collection_fails(gcpause):
    gc.collect(1)
    gc.collect(2)
    gcpause.assert_no_collection()

def test_max_pause_passes_with_a_generous_limit(gcpause):
    gc.collect(0)
    gcpause.assert_max_pause(60_000)

def test_max_pause_fails(gcpause):
    gc.collect(2)
    gcpause.assert_max_pause(0)
"""


@pytest.mark.parametrize("enabled", [False, True], ids=["without-option", "with-option"])
def test_fixture_assertions_pass_and_fail_with_readable_messages(
        pytester: pytest.Pytester, gc_off: None, enabled: bool) -> None:
    pytester.makepyfile(FIXTURE_TESTS)
    result = pytester.runpytest(*PLUGIN, *(["--gcpause"] if enabled else []))
    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines([
        "*AssertionError: expected no collection during the test, got 1 (* paused):",
        "*  gen 0: *, * collected, * uncollectable",
    ])
    result.stdout.fnmatch_lines([
        ("*AssertionError: expected no collection of generation >= 2 during the test, "
         "got 1 (* paused):"),
        "*  gen 2: *, * collected, * uncollectable",
    ])
    result.stdout.fnmatch_lines([
        ("*AssertionError: expected no GC pause longer than 0 ms during the test, got 1 "
         "(longest *):"),
        "*  gen 2: *, * collected, * uncollectable",
    ])
    out = result.stdout.str()
    # The generation-1 collection in test_full_collection_fails is not listed.
    assert "gen 1:" not in out
    assert ("gcpause: GC pauses" in out) is enabled
    assert not _hooks_installed()


def test_fixture_stats_are_final_in_teardown_of_a_dependent_fixture(
        pytester: pytest.Pytester, gc_off: None) -> None:
    pytester.makepyfile("""
        import gc
        import pytest

        seen = []

        @pytest.fixture
        def checker(gcpause):
            yield
            gc.collect(2)  # after the call phase: not counted
            seen.append([g.count for g in gcpause.stats.generations])
            seen.append(len(gcpause.pauses))

        def test_body(checker):
            gc.collect(0)

        def test_check():
            assert seen == [[1, 0, 0], 1]
    """)
    pytester.runpytest(*PLUGIN).assert_outcomes(passed=2)


@pytest.mark.parametrize("bad, exc", [
    (3, ValueError), (-1, ValueError), ("2", TypeError), (True, TypeError), (2.0, TypeError),
])
def test_assert_no_collection_rejects_bad_generation(bad: object,
                                                     exc: type[Exception]) -> None:
    fx = GCPauseFixture()
    try:
        with pytest.raises(exc, match="generation"):
            fx.assert_no_collection(bad)  # type: ignore[arg-type]
    finally:
        fx._close()


@pytest.mark.parametrize("bad, exc", [
    (-0.5, ValueError), (float("nan"), ValueError), ("1", TypeError), (None, TypeError),
    (False, TypeError),
])
def test_assert_max_pause_rejects_bad_limit(bad: object, exc: type[Exception]) -> None:
    fx = GCPauseFixture()
    try:
        with pytest.raises(exc, match="ms"):
            fx.assert_max_pause(bad)  # type: ignore[arg-type]
    finally:
        fx._close()


def test_fixture_lists_every_pause_across_rotations(gc_off: None) -> None:
    fx = GCPauseFixture()
    try:
        expected = []
        for g in (0, 1, 2, 0, 0, 2):
            gc.collect(g)
            expected.append(g)
            assert [p.generation for p in fx.pauses] == expected
        assert fx.stats.count == len(expected)
    finally:
        fx._close()
    assert [p.generation for p in fx.pauses] == expected


def _entry_point_installed() -> bool:
    from importlib.metadata import entry_points

    eps = entry_points()
    group = (eps.select(group="pytest11") if hasattr(eps, "select")
             else eps.get("pytest11", []))  # type: ignore[attr-defined]
    return any(ep.name == "gcpause" for ep in group)


@pytest.mark.skipif(not _entry_point_installed(),
                    reason="the gcpause pytest11 entry point is not installed")
def test_entry_point_registers_the_option(pytester: pytest.Pytester,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--gcpause *"])
