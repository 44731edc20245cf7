"""Tests for gcpause.control: scoped GC control, timed collect, freeze, flavor.

Collections happen because a test asks for them: explicit gc.collect(g), or bounded loops of
self-referencing __slots__ objects under small thresholds (cpython-gc.md §8).  Assertions
that depend on the collector's flavour say so.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import subprocess
import sys
import sysconfig
import threading
import warnings
from typing import Any, Callable

import pytest

import gcpause
from gcpause import control
from gcpause._recording import Pause

MAX = 2**31 - 1
FLAVOR = control.flavor()
GENERATIONAL = FLAVOR == "generational"
FREE_THREADED = FLAVOR == "free-threaded"


class Node:
    __slots__ = ("ref",)


def make_cycles(n: int, keep: list[Node] | None = None) -> None:
    """n self-referencing objects: n counted GC allocations, garbage unless kept."""
    for _ in range(n):
        x = Node()
        x.ref = x
        if keep is not None:
            keep.append(x)


def gc_state() -> tuple[object, ...]:
    return (gc.isenabled(), gc.get_threshold(), list(gc.callbacks), gc.get_freeze_count())


def registry_empty() -> bool:
    return (not control._active and control._saved is None and not control._budgets
            and not control._orphans and control._to_collect == -1)


def small_auto_thresholds() -> tuple[int, ...]:
    # Free-threaded builds need threshold1 == 0 to collect without deferral (§3, §8).
    return (100, 0, 0) if FREE_THREADED else (100, 10, 10)


# -- flavor ----------------------------------------------------------------------------

def test_flavor_matches_the_build_and_leaves_thresholds_unchanged() -> None:
    before = gc.get_threshold()
    control._flavor = None  # force the probe
    try:
        got = control.flavor()
    finally:
        control._flavor = FLAVOR
    assert gc.get_threshold() == before
    assert got == FLAVOR
    version = sys.version_info[:3]
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        assert got == "free-threaded"
    elif version < (3, 14, 0) or (3, 14, 5) <= version < (3, 15, 0):
        assert got == "generational"
    elif version < (3, 14, 5):
        assert got == "incremental"
    else:  # 3.15: incremental in early alphas, generational after the forward-port
        assert got in ("generational", "incremental")
    assert gcpause.flavor is control.flavor


# -- paused() --------------------------------------------------------------------------

def test_paused_turns_automatic_collection_off_and_restores_state() -> None:
    before = gc_state()
    with gcpause.paused() as p:
        assert isinstance(p, control.Paused)
        assert gc.get_threshold() == (MAX, MAX, MAX)
        assert not gc.isenabled()
        assert p.active
    assert not p.active
    assert gc_state() == before
    assert registry_empty()


def test_paused_restores_a_disabled_gc_and_custom_thresholds() -> None:
    old = gc.get_threshold()
    was = gc.isenabled()
    gc.disable()
    gc.set_threshold(123, 45, 67)
    try:
        with gcpause.paused():
            gc.enable()
        assert not gc.isenabled()
        assert gc.get_threshold() == (123, 45, 67)
    finally:
        gc.set_threshold(*old)
        (gc.enable if was else gc.disable)()


def test_paused_restores_state_after_exception() -> None:
    before = gc_state()
    with pytest.raises(KeyError):
        with gcpause.paused(collect=2):
            gc.enable()
            gc.set_threshold(1, 1, 1)
            raise KeyError("boom")
    assert gc_state() == before
    assert registry_empty()


def test_recorder_sees_no_automatic_collection_inside_paused_even_after_gc_enable(
        impl: Any) -> None:
    # GIVEN thresholds under which the same loop does collect automatically
    with gcpause.thresholds(*small_auto_thresholds()), impl.Recorder() as control_rec:
        gc.enable()
        make_cycles(50_000)
    assert control_rec.stats.count >= 1
    # WHEN the loop runs inside paused(), with a stray gc.enable() and gc.disable()
    with gcpause.thresholds(*small_auto_thresholds()):
        with gcpause.paused(), impl.Recorder() as rec:
            gc.disable()
            gc.enable()
            make_cycles(50_000)
            with gcpause.young_only():  # a weaker nested scope does not weaken the pause
                make_cycles(20_000)
            gc.enable()
            make_cycles(50_000)
    # THEN the recorder saw nothing
    assert rec.stats.count == 0, rec.pauses
    assert rec.pauses == []


def test_stray_set_threshold_inside_paused_is_reasserted_at_next_entry_and_undone() -> None:
    before = gc_state()
    with gcpause.paused():
        gc.set_threshold(10, 10, 10)  # documented: holds until the next scope entry/exit
        assert gc.get_threshold() == (10, 10, 10)
        with gcpause.paused():
            assert gc.get_threshold() == (MAX, MAX, MAX)
            gc.set_threshold(20)
        assert gc.get_threshold() == (MAX, MAX, MAX)
        gc.set_threshold(30)
    assert gc_state() == before


def test_paused_collect_runs_after_the_state_is_restored() -> None:
    seen: list[tuple[str, int, tuple[int, ...], bool]] = []

    def cb(phase: str, info: dict[str, int]) -> None:
        seen.append((phase, info["generation"], gc.get_threshold(), gc.isenabled()))

    before = gc_state()
    gc.callbacks.append(cb)
    try:
        with gcpause.paused(collect=0):
            assert seen == []
    finally:
        gc.callbacks.remove(cb)
    assert seen[0][0] == "start"
    assert [s[:2] for s in seen] == [("start", 0), ("stop", 0)]
    assert seen[0][2:] == (before[1], before[0])
    assert gc_state() == before


def test_nested_collect_requests_run_once_at_the_outermost_exit_oldest_wins() -> None:
    gens: list[int] = []

    def cb(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            gens.append(info["generation"])

    gc.callbacks.append(cb)
    try:
        with gcpause.paused(collect=0):
            with gcpause.paused(collect=1):
                pass
            with gcpause.young_only(collect=0):
                pass
            assert gens == []
    finally:
        gc.callbacks.remove(cb)
    assert gens == [1]


def test_paused_object_can_be_shared_and_reentered() -> None:
    before = gc_state()
    p = gcpause.paused()
    with p:
        with p:
            assert gc.get_threshold() == (MAX, MAX, MAX)
        assert gc.get_threshold() == (MAX, MAX, MAX)
        assert p.active
    assert not p.active
    assert gc_state() == before


def test_exit_without_enter_raises_runtime_error() -> None:
    before = gc_state()
    with pytest.raises(RuntimeError, match="without a matching"):
        gcpause.paused().__exit__(None, None, None)
    with pytest.raises(RuntimeError, match="without a matching"):
        gcpause.budget(10).__exit__(None, None, None)
    assert gc_state() == before


# -- young_only() ----------------------------------------------------------------------

@pytest.mark.skipif(FLAVOR == "incremental",
                    reason="the incremental collector has no young-only automatic mode")
def test_young_only_lets_only_generation_0_collections_run(impl: Any) -> None:
    if GENERATIONAL:
        # Control: the same loop under (100, 10, 10) reaches generation 1.
        with gcpause.thresholds(100, 10, 10), impl.Recorder() as ctl:
            gc.enable()
            make_cycles(30_000)
        assert ctl.stats.generations[1].count + ctl.stats.generations[2].count >= 1
    with gcpause.thresholds(*small_auto_thresholds()), gcpause.young_only(), \
            impl.Recorder() as rec:
        assert gc.isenabled()
        if GENERATIONAL:
            assert gc.get_threshold() == (100, MAX, MAX)
        make_cycles(30_000)
    assert rec.stats.count >= 1
    assert {p.generation for p in rec.pauses} == {0}


def test_young_only_enables_gc_inside_and_restores_disabled_flag() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        with gcpause.young_only():
            assert gc.isenabled()
            gc.disable()  # stray: re-asserted at the next scope entry
            with gcpause.thresholds(5000):
                assert gc.isenabled()
                if GENERATIONAL:
                    assert gc.get_threshold() == (5000, MAX, MAX)
        assert not gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


def test_young_only_uses_the_default_threshold0_when_it_was_0() -> None:
    old = gc.get_threshold()
    gc.set_threshold(0, 10, 10)
    try:
        with gcpause.young_only():
            assert gc.get_threshold()[0] == (700 if sys.version_info < (3, 13) else 2000)
        assert gc.get_threshold() == (0, 10, 10)
    finally:
        gc.set_threshold(*old)


def test_paused_wins_over_young_only_and_budget_in_any_order() -> None:
    before = gc_state()
    with gcpause.young_only():
        with gcpause.budget(1000):
            with gcpause.paused():
                assert gc.get_threshold() == (MAX, MAX, MAX) and not gc.isenabled()
            assert gc.isenabled()
            if GENERATIONAL:
                assert gc.get_threshold()[1:] == (MAX, MAX)
                assert gc.get_threshold()[0] >= 1000
    with gcpause.paused():
        with gcpause.young_only(), gcpause.budget(10):
            assert gc.get_threshold() == (MAX, MAX, MAX) and not gc.isenabled()
    assert gc_state() == before


# -- budget() --------------------------------------------------------------------------

def test_budget_within_limit_reports_not_exceeded_and_no_collection() -> None:
    keep: list[Node] = []
    with gcpause.thresholds(*small_auto_thresholds()):
        with gcpause.budget(20_000) as b:
            assert gc.isenabled()
            make_cycles(5_000, keep)
            assert not b.exceeded
    assert not b.exceeded
    assert b.collections == (0, 0, 0)
    assert b.objects == 20_000


def test_budget_past_limit_reports_exceeded_and_young_collections() -> None:
    with gcpause.budget(2_000) as b:
        make_cycles(20_000)
        if GENERATIONAL:
            assert b.exceeded  # live: a collection already started past the budget
    assert b.exceeded
    if GENERATIONAL:
        assert b.collections[0] >= 1
        assert b.collections[1:] == (0, 0)


def test_budget_inside_paused_is_exceeded_without_any_collection() -> None:
    with gcpause.paused():
        with gcpause.budget(1_000) as b:
            make_cycles(5_000)
            assert not b.exceeded  # no collection started: found at exit
    assert b.exceeded
    assert b.collections == (0, 0, 0)


def test_budget_counts_explicit_collections_without_calling_them_exceeded() -> None:
    with gcpause.budget(50_000) as b:
        make_cycles(100)
        gc.collect(0)
        gcpause.collect(1)
    assert not b.exceeded
    assert b.collections == (1, 1, 0)


def test_budget_cannot_be_entered_twice_at_once_but_can_be_reused() -> None:
    before = gc_state()
    b = gcpause.budget(10_000)
    with b:
        with pytest.raises(RuntimeError, match="already active"):
            b.__enter__()
    with b:
        make_cycles(30_000)
    assert b.exceeded
    with b:
        pass
    assert not b.exceeded  # results are per entry
    assert gc_state() == before
    assert registry_empty()


def test_budget_callback_is_installed_only_while_a_budget_is_active() -> None:
    assert control._budget_callback not in gc.callbacks
    with gcpause.budget(10) as outer:
        assert gc.callbacks.count(control._budget_callback) == 1
        with gcpause.budget(10):
            assert gc.callbacks.count(control._budget_callback) == 1
        assert gc.callbacks.count(control._budget_callback) == 1
        assert outer.active
    assert control._budget_callback not in gc.callbacks


def test_budget_callback_takes_no_lock() -> None:
    done = threading.Event()

    def call() -> None:
        control._budget_callback("start", {"generation": 0})
        control._budget_callback("stop", {"generation": 2})
        control._budget_callback("stop", {"generation": 7})
        control._budget_callback("stop", "not a dict")  # type: ignore[arg-type]
        done.set()

    with gcpause.budget(10) as b:
        with control._lock:  # held: a callback that took it would block
            t = threading.Thread(target=call)
            t.start()
            finished = done.wait(10)
        t.join(10)
    assert finished
    assert b.collections[2] == 1


# -- thresholds() ----------------------------------------------------------------------

def test_thresholds_sets_given_values_keeps_none_and_restores() -> None:
    before = gc_state()
    cur = gc.get_threshold()
    with gcpause.thresholds(555) as t:
        assert gc.get_threshold() == (555, *cur[1:])
        assert t.values == (555, None, None)
        with gcpause.thresholds(600, 20):
            assert gc.get_threshold() == (600, 20, cur[2])
        assert gc.get_threshold() == (555, *cur[1:])
    assert gc_state() == before


def test_thresholds_leaves_the_enabled_flag_alone() -> None:
    was = gc.isenabled()
    try:
        gc.disable()
        with gcpause.thresholds(100):
            assert not gc.isenabled()
        gc.enable()
        with gcpause.thresholds(100):
            assert gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


def _in_thread_scope(scope: Any, entered: threading.Event, release: threading.Event) -> None:
    with scope:
        entered.set()
        release.wait(10)


def test_conflicting_thresholds_from_two_threads_raise_before_changing_anything() -> None:
    before = gc_state()
    entered, release = threading.Event(), threading.Event()
    t = threading.Thread(target=_in_thread_scope,
                         args=(gcpause.thresholds(111, 22), entered, release))
    t.start()
    try:
        assert entered.wait(10)
        inside = gc_state()
        with pytest.raises(RuntimeError, match="gen0=333 conflicts with gen0=111"):
            with gcpause.thresholds(333):
                pytest.fail("entered a conflicting scope")  # pragma: no cover
        assert gc_state() == inside
        assert len(control._active) == 1
        with gcpause.thresholds(111, None, 9):  # compatible: merged
            assert gc.get_threshold() == (111, 22, 9)
        with gcpause.paused():  # other kinds never conflict
            assert gc.get_threshold() == (MAX, MAX, MAX)
        assert gc.get_threshold() == (111, 22, before[1][2])  # type: ignore[index]
    finally:
        release.set()
        t.join(10)
    assert gc_state() == before
    assert registry_empty()


def test_state_is_restored_by_the_last_thread_to_leave() -> None:
    before = gc_state()
    entered, release = threading.Event(), threading.Event()
    t = threading.Thread(target=_in_thread_scope, args=(gcpause.paused(), entered, release))
    with gcpause.young_only():
        t.start()
        assert entered.wait(10)
        assert gc.get_threshold() == (MAX, MAX, MAX)
    # we left first: the other thread's pause still holds
    assert gc.get_threshold() == (MAX, MAX, MAX) and not gc.isenabled()
    release.set()
    t.join(10)
    assert gc_state() == before
    assert registry_empty()


# -- collect() and freeze() ------------------------------------------------------------

@pytest.mark.parametrize("generation", [0, 1, 2])
def test_collect_returns_the_pause_of_that_collection(generation: int) -> None:
    before = gc_state()
    with gcpause.paused():
        make_cycles(50)
        t0 = __import__("time").monotonic_ns()
        p = gcpause.collect(generation)
        t1 = __import__("time").monotonic_ns()
    assert isinstance(p, Pause)
    assert p.generation == generation
    assert p.collected >= 50
    assert p.uncollectable == 0
    assert p.thread_id == threading.get_ident()
    assert t0 <= p.start_ns <= p.start_ns + p.duration_ns <= t1
    assert p.duration_ns > 0
    assert gc_state() == before


def test_collect_default_is_a_full_collection_and_does_not_disturb_recording() -> None:
    gcpause.start()
    try:
        p = gcpause.collect()
        assert p.generation == 2
        assert gcpause.is_recording()
        assert gcpause.records()[-1] == p
    finally:
        gcpause.stop()
        gcpause.reset()


FREEZE_SCRIPT = """
import gc, gcpause
gc.disable()  # so that the garbage below is still there for freeze()'s collection
class Node:
    __slots__ = ("ref",)
keep = []
for _ in range(1000):
    x = Node(); x.ref = x; keep.append(x)
for _ in range(1000):
    x = Node(); x.ref = x  # garbage: collected before the freeze
del x
before = gc.get_freeze_count()
r = gcpause.freeze()
assert r.frozen == gc.get_freeze_count() - before, r
assert r.total_frozen == gc.get_freeze_count(), r
assert r.frozen >= 1000, r
assert r.pause.generation == 2 and r.pause.collected >= 1000, r.pause
assert r.duration_ns >= r.pause.duration_ns > 0, r
assert all(gc.is_tracked(k) for k in keep)
try:
    r.frozen = 0
except AttributeError:
    pass
else:
    raise AssertionError("FreezeResult is mutable")
assert "frozen=" in repr(r)
print("ok")
"""


def test_freeze_collects_then_freezes_and_reports_the_count() -> None:
    # In a fresh interpreter: freezing cannot be undone exactly in this one (gc.unfreeze()
    # would also release whatever was frozen before the test).
    out = subprocess.run([sys.executable, "-c", FREEZE_SCRIPT], capture_output=True,
                         text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# -- decorator and async forms ---------------------------------------------------------

def test_decorated_function_runs_in_a_fresh_scope_per_call() -> None:
    before = gc_state()
    calls: list[tuple[int, ...]] = []

    @gcpause.paused()
    def work(x: int, *, y: int = 0) -> int:
        """doc"""
        calls.append(gc.get_threshold())
        if x < 0:
            raise ValueError("negative")
        return x + y

    assert work.__name__ == "work" and work.__doc__ == "doc"
    assert work(1, y=2) == 3
    with pytest.raises(ValueError, match="negative"):
        work(-1)
    assert calls == [(MAX, MAX, MAX)] * 2
    assert gc_state() == before


def test_decorated_budget_and_young_only_and_thresholds() -> None:
    before = gc_state()

    @gcpause.budget(10_000)
    def b() -> bool:
        return gc.isenabled() and control._budget_callback in gc.callbacks

    @gcpause.young_only(collect=0)
    def y() -> bool:
        return gc.isenabled()

    @gcpause.thresholds(4321)
    def t() -> int:
        return gc.get_threshold()[0]

    assert b() and y() and t() == 4321
    assert gc_state() == before


def test_async_function_decorator_and_async_with() -> None:
    before = gc_state()

    @gcpause.paused(collect=0)
    async def handler(x: int) -> tuple[int, tuple[int, ...], bool]:
        await asyncio.sleep(0)
        return x, gc.get_threshold(), gc.isenabled()

    assert inspect.iscoroutinefunction(handler)

    async def main() -> list[Any]:
        out: list[Any] = [await handler(7)]
        async with gcpause.budget(100_000) as b:
            await asyncio.sleep(0)
            out.append(b.active)
        async with gcpause.young_only():
            out.append(gc.isenabled())
        # two tasks sharing one paused() object, interleaved
        p = gcpause.paused()

        async def task() -> None:
            async with p:
                await asyncio.sleep(0)
                out.append(gc.get_threshold()[0])

        await asyncio.gather(task(), task())
        return out

    out = asyncio.run(main())
    assert out == [(7, (MAX, MAX, MAX), False), True, True, MAX, MAX]
    assert gc_state() == before
    assert registry_empty()


def test_decorating_generators_and_non_callables_is_a_type_error() -> None:
    def gen() -> Any:
        yield 1

    async def agen() -> Any:
        yield 1

    for bad in (gen, agen):
        with pytest.raises(TypeError, match="func must not be a generator function"):
            gcpause.paused()(bad)
    with pytest.raises(TypeError, match="func must be callable"):
        gcpause.paused()(42)  # type: ignore[arg-type]


def test_bare_decorator_names_collect_and_hints_at_the_call() -> None:
    with pytest.raises(TypeError, match=r"collect must be None or an int.*@gcpause.paused\(\)"):
        gcpause.paused(lambda: None)  # type: ignore[arg-type]


# -- bad input: named argument, nothing changed ----------------------------------------

BAD_INPUTS: list[tuple[Callable[[], object], type[Exception], str]] = [
    (lambda: gcpause.paused("1"), TypeError, "collect"),  # type: ignore[arg-type]
    (lambda: gcpause.paused(1.0), TypeError, "collect"),  # type: ignore[arg-type]
    (lambda: gcpause.paused(True), TypeError, "collect"),
    (lambda: gcpause.paused(3), ValueError, "collect"),
    (lambda: gcpause.paused(-1), ValueError, "collect"),
    (lambda: gcpause.young_only(5), ValueError, "collect"),
    (lambda: gcpause.young_only([0]), TypeError, "collect"),  # type: ignore[arg-type]
    (lambda: gcpause.budget(0), ValueError, "objects"),
    (lambda: gcpause.budget(-5), ValueError, "objects"),
    (lambda: gcpause.budget(2**31), ValueError, "objects"),
    (lambda: gcpause.budget("10"), TypeError, "objects"),  # type: ignore[arg-type]
    (lambda: gcpause.budget(1.5), TypeError, "objects"),  # type: ignore[arg-type]
    (lambda: gcpause.budget(False), TypeError, "objects"),
    (lambda: gcpause.budget(None), TypeError, "objects"),  # type: ignore[arg-type]
    (lambda: gcpause.budget(10, collect=3), ValueError, "collect"),
    (lambda: gcpause.budget(10, collect="0"), TypeError, "collect"),  # type: ignore[arg-type]
    (lambda: gcpause.thresholds(-1), ValueError, "gen0"),
    (lambda: gcpause.thresholds(2**31), ValueError, "gen0"),
    (lambda: gcpause.thresholds(None), TypeError, "gen0"),  # type: ignore[arg-type]
    (lambda: gcpause.thresholds("700"), TypeError, "gen0"),  # type: ignore[arg-type]
    (lambda: gcpause.thresholds(700, -1), ValueError, "gen1"),
    (lambda: gcpause.thresholds(700, 1.0), TypeError, "gen1"),  # type: ignore[arg-type]
    (lambda: gcpause.thresholds(700, 10, 2**31), ValueError, "gen2"),
    (lambda: gcpause.thresholds(700, 10, True), TypeError, "gen2"),
    (lambda: gcpause.collect(3), ValueError, "generation"),
    (lambda: gcpause.collect(-1), ValueError, "generation"),
    (lambda: gcpause.collect("2"), TypeError, "generation"),  # type: ignore[arg-type]
    (lambda: gcpause.collect(None), TypeError, "generation"),  # type: ignore[arg-type]
    (lambda: gcpause.collect(True), TypeError, "generation"),
    (lambda: gcpause.collect(2.0), TypeError, "generation"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("call,exc,name", BAD_INPUTS)
def test_bad_input_names_the_argument_and_changes_nothing(
        call: Callable[[], object], exc: type[Exception], name: str) -> None:
    before = gc_state()
    stats_before = [s["collections"] for s in gc.get_stats()]
    with pytest.raises(exc, match=name):
        call()
    assert gc_state() == before
    assert [s["collections"] for s in gc.get_stats()] == stats_before
    assert registry_empty()


def test_bad_input_inside_an_active_scope_changes_nothing() -> None:
    with gcpause.paused():
        inside = gc_state()
        for call, exc, name in BAD_INPUTS:
            with pytest.raises(exc, match=name):
                call()
            assert gc_state() == inside
        assert len(control._active) == 1


# -- fork -----------------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_drops_other_threads_scopes_and_restores_state() -> None:
    before = gc_state()
    entered, release = threading.Event(), threading.Event()
    t = threading.Thread(target=_in_thread_scope, args=(gcpause.paused(), entered, release))
    t.start()
    try:
        assert entered.wait(10)
        with gcpause.thresholds(4444):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads
                pid = os.fork()
            if pid == 0:  # child: only this thread exists; its thresholds() scope remains
                code = 0
                try:
                    code |= 1 * (len(control._active) != 1)
                    code |= 2 * (gc.get_threshold()[0] != 4444)
                    code |= 4 * (gc.isenabled() != before[0])
                    with gcpause.young_only():  # the lock is usable
                        pass
                    code |= 8 * (gc.get_threshold()[0] != 4444)
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    finally:
        release.set()
        t.join(10)
    assert gc_state() == before
    assert registry_empty()


# -- re-entry from finalizers (white box) ----------------------------------------------

def test_scope_entered_during_our_own_critical_section_is_inert() -> None:
    before = gc_state()
    control._owner = threading.get_ident()  # as if a finalizer ran inside our update
    try:
        with gcpause.paused() as p, gcpause.budget(5) as b:
            assert gc_state() == before
            assert p.active and b.active
            assert not control._active
    finally:
        control._owner = None
    assert gc_state() == before
    assert registry_empty()


def test_exit_during_our_own_critical_section_is_queued_and_processed() -> None:
    before = gc_state()
    p = gcpause.paused()
    p.__enter__()
    control._owner = threading.get_ident()
    try:
        p.__exit__(None, None, None)  # as if a finalizer closed a suspended coroutine
    finally:
        control._owner = None
    assert len(control._orphans) == 1
    assert gc.get_threshold() == (MAX, MAX, MAX)
    with gcpause.thresholds(1000):  # the next critical section drains the queue
        assert not control._orphans
        assert gc.get_threshold()[0] == 1000
    assert gc_state() == before
    assert registry_empty()
