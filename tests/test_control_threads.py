"""Random programs of nested and overlapping gcpause scopes across 8 threads.

Each thread runs a random tree of scopes (paused, young_only, budget, thresholds) with
stray gc.enable()/gc.disable()/gc.set_threshold() calls, allocations, explicit collections
and exceptions inside.  Whatever happens, once every thread is done the interpreter's GC
state is exactly what it was before, the registry is empty, and the only RuntimeErrors are
thresholds() conflicts between threads.
"""

from __future__ import annotations

import gc
import os
import threading
from typing import Any, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gcpause
from gcpause import control

N_THREADS = 8
settings.register_profile(
    "gcpause-control",
    max_examples=int(os.environ.get("GCPAUSE_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Boom(Exception):
    pass


class Node:
    __slots__ = ("ref",)


Op = Tuple[Any, ...]

thr_value = st.sampled_from([0, 1, 50, 700, 2000, None])
stray = st.one_of(
    st.just(("enable",)),
    st.just(("disable",)),
    st.tuples(st.just("set_threshold"), st.integers(0, 3000), st.integers(0, 20),
              st.integers(0, 20)),
    st.tuples(st.just("alloc"), st.integers(0, 3000)),
    st.tuples(st.just("collect"), st.integers(0, 2)),
    st.just(("raise",)),
    st.just(("yield",)),
)
collect_arg = st.sampled_from([None, None, 0, 1, 2])


def scopes(body: st.SearchStrategy[list[Op]]) -> st.SearchStrategy[Op]:
    return st.one_of(
        st.tuples(st.just("paused"), collect_arg, body),
        st.tuples(st.just("young_only"), collect_arg, body),
        st.tuples(st.just("budget"), st.integers(1, 5000), collect_arg, body),
        st.tuples(st.just("thresholds"), st.sampled_from([0, 100, 700]), thr_value, thr_value,
                  body),
    )


# Top-level ops are scopes only: stray calls outside every scope would legitimately leave the
# state changed.  Inside, anything goes.
inner_ops = st.recursive(stray, lambda inner: scopes(st.lists(inner, max_size=4)),
                         max_leaves=8)
thread_program = st.lists(scopes(st.lists(inner_ops, max_size=4)), min_size=1, max_size=3)
initial_state = st.tuples(
    st.booleans(),
    st.sampled_from([(700, 10, 10), (2000, 10, 10), (0, 10, 10), (123, 45, 67), (1, 1, 1)]))


def make_scope(op: Op) -> tuple[Any, list[Op]]:
    kind = op[0]
    if kind == "paused":
        return gcpause.paused(op[1]), op[2]
    if kind == "young_only":
        return gcpause.young_only(op[1]), op[2]
    if kind == "budget":
        return gcpause.budget(op[1], op[2]), op[3]
    return gcpause.thresholds(op[1], op[2], op[3]), op[4]


def execute(op: Op, errors: list[BaseException]) -> None:
    kind = op[0]
    if kind == "enable":
        gc.enable()
    elif kind == "disable":
        gc.disable()
    elif kind == "set_threshold":
        gc.set_threshold(*op[1:])
    elif kind == "alloc":
        for _ in range(op[1]):
            x = Node()
            x.ref = x
    elif kind == "collect":
        gc.collect(op[1])
    elif kind == "raise":
        raise Boom
    elif kind == "yield":
        threading.Event().wait(0.0005)
    else:
        scope, body = make_scope(op)
        try:
            with scope:
                for inner in body:
                    execute(inner, errors)
        except RuntimeError as exc:
            if kind != "thresholds" or "conflicts with" not in str(exc):
                raise
        if kind == "budget":
            assert isinstance(scope.exceeded, bool)
            assert all(n >= 0 for n in scope.collections)


def run_thread(program: list[Op], barrier: threading.Barrier,
               errors: list[BaseException]) -> None:
    try:
        barrier.wait(10)
        for op in program:
            try:
                execute(op, errors)
            except Boom:
                pass
    except BaseException as exc:  # reported by the main thread
        errors.append(exc)


@settings(settings.get_profile("gcpause-control"))
@given(programs=st.lists(thread_program, min_size=N_THREADS, max_size=N_THREADS),
       initial=initial_state)
def test_random_scope_programs_across_threads_restore_gc_state_exactly(
        programs: list[list[Op]], initial: tuple[bool, tuple[int, int, int]]) -> None:
    old = (gc.isenabled(), gc.get_threshold())
    enabled, thresholds = initial
    gc.set_threshold(*thresholds)
    (gc.enable if enabled else gc.disable)()
    before = (gc.isenabled(), gc.get_threshold(), list(gc.callbacks), gc.get_freeze_count())
    errors: list[BaseException] = []
    try:
        barrier = threading.Barrier(N_THREADS)
        threads = [threading.Thread(target=run_thread, args=(p, barrier, errors))
                   for p in programs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not any(t.is_alive() for t in threads), "a thread hung"
        after = (gc.isenabled(), gc.get_threshold(), list(gc.callbacks),
                 gc.get_freeze_count())
        registry = (list(control._active), control._saved, control._budgets,
                    list(control._orphans), control._to_collect)
    finally:
        gc.set_threshold(*old[1])
        (gc.enable if old[0] else gc.disable)()
    assert errors == []
    assert after == before
    assert registry == ([], None, (), [], -1)
