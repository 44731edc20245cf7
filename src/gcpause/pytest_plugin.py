"""pytest plugin: GC pauses per test (``--gcpause``) and the ``gcpause`` fixture.

Inert unless enabled: at import it defines an option group and a fixture and
imports nothing but pytest.  ``--gcpause`` records each test's setup, call and
teardown phases in separate ``gcpause.Recorder`` windows and lists the tests
that paused longest at the end.  The ``gcpause`` fixture works with or without
``--gcpause``: it records the test's call phase only.

PYTEST_DONT_REWRITE: the module has no assert statements, and this marker
keeps pytest quiet when it is loaded again after a plain import.
"""

from __future__ import annotations

import pytest

from gcpause._recording import fmt_ns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Generator, Iterator, Sequence
    from typing import Any

    from _pytest.terminal import TerminalReporter

    from gcpause import Pause, Recorder, Stats

__all__ = ["GCPauseFixture"]

_PLUGIN_NAME = "gcpause-session"
_PROPERTY = "gcpause_"  # user_properties names: gcpause_setup, gcpause_call, ...
_PHASES = ("setup", "call", "teardown")
_FIXTURE_KEY: pytest.StashKey[GCPauseFixture] = pytest.StashKey()


def _describe(p: Pause) -> str:
    site = getattr(p, "site", None)
    where = f" at {site}" if site else ""
    return (f"gen {p.generation}: {fmt_ns(p.duration_ns)}, {p.collected} collected, "
            f"{p.uncollectable} uncollectable{where}")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gcpause", "GC pauses (gcpause)")
    group.addoption(
        "--gcpause", action="store_true", default=False,
        help="record the cyclic-GC pauses of every test (setup, call and teardown) "
             "and list the tests that paused longest")
    group.addoption(
        "--gcpause-top", action="store", type=int, default=10, metavar="N",
        help="with --gcpause, how many tests to list (default 10; 0 lists none)")


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("gcpause"):
        return
    top = config.getoption("gcpause_top")
    if top < 0:
        raise pytest.UsageError(f"--gcpause-top must be >= 0, got {top}")
    config.pluginmanager.register(_Session(config, report=True), _PLUGIN_NAME)


class _Session:
    """Per-phase recording (when ``report``) and the fixture's call-phase window.

    Registered at configure time by ``--gcpause``, or by the first use of the
    fixture (then with ``report=False``: it only restarts fixture windows).
    """

    def __init__(self, config: pytest.Config, report: bool) -> None:
        import gcpause  # noqa: PLC0415 - pytest startup stays free of gcpause until used

        self._Recorder = gcpause.Recorder
        self._report = report
        self._top: int = config.getoption("gcpause_top") if report else 0
        self._tests: dict[str, dict[str, Sequence[int]]] = {}
        self._process: Recorder | None = None
        self._process_stats: Stats | None = None
        if report:
            self._process = self._enter()

    def _enter(self) -> Recorder:
        rec = self._Recorder()
        rec.__enter__()
        return rec

    def pytest_report_header(self) -> list[str]:
        if not self._report:
            return []
        import gcpause  # noqa: PLC0415 - already imported by __init__

        return [("gcpause: recording GC pauses per test phase "
                 f"(implementation {gcpause.IMPLEMENTATION})")]

    def _phase(self, item: pytest.Item, when: str) -> Generator[None, Any, None]:
        fx = item.stash.get(_FIXTURE_KEY, None) if when == "call" else None
        if fx is not None:
            fx._begin_call()
        rec = self._enter() if self._report else None
        try:
            yield
        finally:
            if rec is not None:
                rec.__exit__(None, None, None)
                st = rec.stats
                g = st.generations
                item.user_properties.append((_PROPERTY + when, (
                    g[0].count, g[1].count, g[2].count, st.total_ns, st.max_ns)))
            if fx is not None:
                fx._end_call()

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, Any, None]:
        yield from self._phase(item, "setup")

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, None]:
        yield from self._phase(item, "call")

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, Any, None]:
        yield from self._phase(item, "teardown")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Read from the report, not the item, so that xdist workers' figures arrive.
        if not self._report:
            return
        for name, value in report.user_properties:
            if (isinstance(name, str) and name.startswith(_PROPERTY)
                    and isinstance(value, (tuple, list)) and len(value) == 5):
                phases = self._tests.setdefault(report.nodeid, {})
                phases[name[len(_PROPERTY):]] = tuple(int(v) for v in value)

    def _close_process_window(self) -> None:
        rec, self._process = self._process, None
        if rec is not None:
            rec.__exit__(None, None, None)
            self._process_stats = rec.stats

    def pytest_sessionfinish(self) -> None:
        self._close_process_window()

    def pytest_unconfigure(self) -> None:
        self._close_process_window()

    def pytest_terminal_summary(self, terminalreporter: TerminalReporter) -> None:
        if not self._report:
            return
        tr = terminalreporter
        tr.write_sep("=", "gcpause: GC pauses")
        st = self._process_stats
        in_tests = sum(ph[3] for t in self._tests.values() for ph in t.values())
        if st is not None:
            g = st.generations
            tr.write_line(
                f"this process: {st.count} collections (gen0 {g[0].count}, gen1 "
                f"{g[1].count}, gen2 {g[2].count}), {fmt_ns(st.total_ns)} paused "
                f"({st.gc_share:.2%} of {st.wall_ns / 1e9:.2f} s); "
                f"{fmt_ns(in_tests)} inside tests")
        rows = []
        for nodeid, phases in self._tests.items():
            total = sum(ph[3] for ph in phases.values())
            count = sum(sum(ph[:3]) for ph in phases.values())
            if count:
                rows.append((total, nodeid, phases))
        if not rows:
            tr.write_line("no collections inside tests")
            return
        if self._top == 0:
            return
        rows.sort(key=lambda r: (-r[0], r[1]))
        shown = rows[:self._top]
        tr.write_line(f"slowest {len(shown)} of {len(rows)} tests with collections, by total "
                      f"GC pause (setup + call + teardown):")
        tr.write_line(f"{'total':>12} {'longest':>12}  {'gen0/1/2':>10}  test")
        for total, nodeid, phases in shown:
            gens = "/".join(str(sum(phases[w][i] for w in phases)) for i in range(3))
            longest = max(ph[4] for ph in phases.values())
            extra = ", ".join(f"{w} {fmt_ns(phases[w][3])}" for w in ("setup", "teardown")
                              if w in phases and phases[w][3])
            tr.write_line(f"{fmt_ns(total):>12} {fmt_ns(longest):>12}  {gens:>10}  {nodeid}"
                          + (f"  ({extra})" if extra else ""))


class GCPauseFixture:
    """The ``gcpause`` fixture: the collections of the test's call phase.

    ``recorder`` is a ``gcpause.Recorder`` opened at the start of the call
    phase (the test function itself; fixtures set up before it do not count)
    and closed at its end; when another fixture uses this one during setup, it
    covers from this fixture's setup until then.  ``stats`` is live inside the
    test and final afterwards.  Works without ``--gcpause``.
    """

    def __init__(self) -> None:
        import gcpause  # noqa: PLC0415 - pytest startup stays free of gcpause until used

        self._Recorder = gcpause.Recorder
        self.recorder: Recorder = self._Recorder()
        self._chain: Recorder | None = None
        self._listed: list[Pause] = []
        self._open()

    # -- window management (the plugin calls these) ----------------------------

    def _enter(self) -> Recorder:
        rec = self._Recorder()
        rec.__enter__()
        return rec

    def _open(self) -> None:
        self.recorder = self._enter()
        # A second, rotating window lists the pauses so far: a live Recorder
        # exposes aggregates only, its records after it closes.
        self._chain = self._enter()
        self._listed = []

    def _rotate(self) -> None:
        """Move the chain window's records into ``_listed`` and reopen it.

        The new window opens before the old one closes, so no collection falls
        between them; those in both (by sequence number) are kept only once.
        """
        old = self._chain
        if old is None:
            return
        new = self._enter()
        old.__exit__(None, None, None)
        overlap = old.stats.end_seq - new.stats.first_seq
        pauses = old.pauses
        if overlap > 0:
            pauses = pauses[:max(0, len(pauses) - overlap)]
        self._listed.extend(pauses)
        self._chain = new

    def _close(self) -> None:
        chain, self._chain = self._chain, None
        if self.recorder.active:
            self.recorder.__exit__(None, None, None)
        if chain is not None:
            chain.__exit__(None, None, None)

    def _begin_call(self) -> None:
        self._close()
        self._open()

    def _end_call(self) -> None:
        self._close()

    # -- public ------------------------------------------------------------------

    @property
    def stats(self) -> Stats:
        """``recorder.stats``: live during the test, final after its call phase."""
        return self.recorder.stats

    @property
    def pauses(self) -> list[Pause]:
        """The collections so far, oldest first (at most the ring's newest 4096)."""
        if not self.recorder.active:
            return list(self.recorder.pauses)
        self._rotate()
        return list(self._listed)

    def _failure(self, headline: str, matching: list[Pause], expected: int) -> AssertionError:
        lines = [headline]
        lines += [f"  {_describe(p)}" for p in matching]
        if expected > len(matching):
            lines.append(f"  ... and {expected - len(matching)} more not listed "
                         f"(overwritten in gcpause's ring)")
        return AssertionError("\n".join(lines))

    def assert_no_collection(self, generation: int = 2) -> None:
        """Fail if a collection of generation ``generation`` or older ran so far.

        ``generation`` is 0, 1 or 2: ``2`` (default) forbids full collections,
        ``0`` forbids any.  Raises AssertionError listing each offending
        collection (generation, duration, objects); TypeError/ValueError for a
        bad ``generation``.
        """
        __tracebackhide__ = True
        if isinstance(generation, bool) or not isinstance(generation, int):
            raise TypeError(f"generation must be an int, not {type(generation).__name__}")
        if not 0 <= generation <= 2:
            raise ValueError(f"generation must be 0, 1 or 2, got {generation!r}")
        st = self.stats
        n = sum(st.generations[g].count for g in range(generation, 3))
        if n:
            matching = [p for p in self.pauses if p.generation >= generation]
            what = "collection" if generation == 0 else f"collection of generation >= {generation}"
            raise self._failure(
                f"expected no {what} during the test, got {n} "
                f"({fmt_ns(sum(p.duration_ns for p in matching))} paused):",
                matching, n)

    def assert_max_pause(self, ms: float) -> None:
        """Fail if any GC pause so far was longer than ``ms`` milliseconds.

        Raises AssertionError listing each longer pause; TypeError if ``ms`` is
        not a number, ValueError if it is negative or NaN.
        """
        __tracebackhide__ = True
        if isinstance(ms, bool) or not isinstance(ms, (int, float)):
            raise TypeError(f"ms must be a number, not {type(ms).__name__}")
        if not ms >= 0:
            raise ValueError(f"ms must be >= 0, got {ms!r}")
        limit_ns = ms * 1e6
        st = self.stats
        if st.max_ns > limit_ns:
            longer = [p for p in self.pauses if p.duration_ns > limit_ns]
            raise self._failure(
                f"expected no GC pause longer than {ms:g} ms during the test, got "
                f"{len(longer) or 'at least 1'} (longest {fmt_ns(st.max_ns)}):",
                longer, len(longer) or 1)

    def __repr__(self) -> str:
        return f"<gcpause fixture {self.recorder!r}>"


@pytest.fixture
def gcpause(request: pytest.FixtureRequest) -> Iterator[GCPauseFixture]:
    """The test's GC pauses, with ``assert_no_collection()`` and ``assert_max_pause()``.

    See :class:`gcpause.pytest_plugin.GCPauseFixture`.  Records the test's
    call phase even without ``--gcpause``.
    """
    config = request.config
    if not config.pluginmanager.has_plugin(_PLUGIN_NAME):
        config.pluginmanager.register(_Session(config, report=False), _PLUGIN_NAME)
    fx = GCPauseFixture()
    request.node.stash[_FIXTURE_KEY] = fx
    try:
        yield fx
    finally:
        fx._close()
        del request.node.stash[_FIXTURE_KEY]
