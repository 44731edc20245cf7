"""The pause recorder (issue #2), run against both implementations via ``impl``."""

from __future__ import annotations

import gc
import os
import sysconfig
import threading
import time
import tracemalloc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gcpause
from gcpause import _hist, _pure

from .conftest import Impl, gc_disabled

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def exact_percentile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    if q >= 100:
        return ordered[-1]
    return ordered[_hist.rank(q, len(ordered)) - 1]


class Node:
    __slots__ = ("ref", "__weakref__")


def make_cycles(n: int) -> None:
    for _ in range(n):
        x = Node()
        x.ref = x


# -- basic recording -----------------------------------------------------------


@pytest.mark.parametrize("generation", [0, 1, 2])
def test_each_explicit_collection_gives_one_record_with_its_generation(
        impl: Impl, generation: int) -> None:
    with gc_disabled():
        impl.api.start()
        gc.collect(generation)
        impl.api.stop()
    recs = impl.api.records()
    assert [p.generation for p in recs] == [generation]
    stats = impl.api.stats()
    assert stats.count == 1
    assert stats.generations[generation].count == 1
    assert sum(g.count for g in stats.generations) == 1


def test_record_fields_and_tuple_shape(impl: Impl) -> None:
    with gc_disabled():
        gc.collect()
        impl.api.start()
        make_cycles(50)
        gc.collect(0)
        impl.api.stop()
    (p,) = impl.api.records()
    generation, start_ns, duration_ns, collected, uncollectable, thread_id = p
    assert (generation, collected, uncollectable) == (0, 50, 0)
    assert thread_id == threading.get_ident()
    assert start_ns > 0 and duration_ns > 0
    assert p._asdict()["collected"] == 50
    assert "collected=50" in repr(p)
    assert isinstance(p, tuple) and len(p) == 6


def test_recorded_duration_lies_inside_the_time_measured_around_collect(impl: Impl) -> None:
    keep = [[] for _ in range(100_000)]  # a heap big enough for a visible gen-2 pause
    gaps = []
    with gc_disabled():
        impl.api.start()
        for _ in range(5):
            t0 = time.monotonic_ns()
            gc.collect()
            t1 = time.monotonic_ns()
            p = impl.api.records()[-1]
            # The recorded window is contained in the outer one, on the same clock.
            assert t0 <= p.start_ns
            assert p.start_ns + p.duration_ns <= t1
            gaps.append((t1 - t0 - p.duration_ns) / (t1 - t0))
        impl.api.stop()
    del keep
    # Loose: at least one of five full collections was mostly inside the window
    # (benchmarks/bench_overhead.py reports the real gap).
    assert min(gaps) < 0.5


def test_cpython_duration_is_reported_where_cpython_has_it(impl: Impl) -> None:
    seen: list[dict[str, Any]] = []

    def spy(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop":
            seen.append(dict(info))

    with gc_disabled():
        gc.callbacks.append(spy)
        try:
            impl.api.start()
            gc.collect()
            impl.api.stop()
        finally:
            gc.callbacks.remove(spy)
    (p,) = impl.api.records()
    if "duration" in seen[0]:
        assert p.cpython_duration_ns is not None
        assert p.cpython_duration_ns == round(seen[0]["duration"] * 1e9)
        assert p.cpython_duration_ns <= p.duration_ns
    else:
        assert p.cpython_duration_ns is None


def test_total_pause_ns_matches_stats_total(impl: Impl) -> None:
    with gc_disabled():
        impl.api.start()
        for g in (0, 1, 2, 0):
            gc.collect(g)
        total = impl.backend.total_pause_ns()
        stats = impl.api.stats()
        impl.api.stop()
    assert total == stats.total_ns == sum(p.duration_ns for p in impl.api.records())
    assert total > 0


def test_stats_fields_are_consistent(impl: Impl) -> None:
    with gc_disabled():
        gc.collect()
        impl.api.start()
        for g in (0, 0, 1, 2):
            make_cycles(10)
            gc.collect(g)
        impl.api.stop()
    s = impl.api.stats()
    recs = impl.api.records()
    assert s.count == 4 and [g.count for g in s.generations] == [2, 1, 1]
    assert s.max_ns == max(p.duration_ns for p in recs)
    assert s.generations[0].max_ns == max(p.duration_ns for p in recs if p.generation == 0)
    assert s.collected == 40 and s.uncollectable == 0
    assert s.mean_ns == pytest.approx(s.total_ns / 4)
    assert 0 < s.gc_share <= 1
    assert s.wall_ns >= s.total_ns
    assert s.overwritten == 0
    assert s.anomalies == dict.fromkeys(gcpause._recording.ANOMALY_KINDS, 0)
    assert "count=4" in repr(s)
    with pytest.raises(AttributeError):
        s.count = 5  # type: ignore[misc]


def test_empty_stats_before_any_start(impl: Impl) -> None:
    s = impl.api.stats()
    assert s.count == 0 and s.total_ns == 0 and s.percentile(50) == 0
    assert s.mean_ns == 0.0 and s.gc_share == 0.0 and s.wall_ns == 0
    assert impl.api.records() == []


@pytest.mark.usefixtures("empty_callbacks")
def test_start_is_idempotent_and_stop_leaves_no_callable(impl: Impl) -> None:
    before = list(gc.callbacks)
    impl.api.start(128)
    impl.api.start(128)
    assert impl.api.is_recording()
    assert sum(cb in impl.backend.hooks() for cb in gc.callbacks) == 1
    impl.api.stop()
    impl.api.stop()
    assert not impl.api.is_recording()
    assert gc.callbacks == before


def test_start_clears_previous_figures_and_reset_zeroes_them(impl: Impl) -> None:
    with gc_disabled():
        impl.api.start()
        gc.collect(0)
        impl.api.reset()
        assert impl.api.stats().count == 0 and impl.api.records() == []
        gc.collect(0)
        assert impl.api.stats().count == 1
        impl.api.stop()
        impl.api.start()
        assert impl.api.stats().count == 0
        impl.api.stop()


# -- aggregates, ring and histogram --------------------------------------------


def test_small_ring_keeps_aggregates_exact(impl: Impl) -> None:
    with gc_disabled():
        impl.api.start(8)
        for i in range(300):
            gc.collect(i % 3)
        impl.api.stop()
    s = impl.api.stats()
    recs = impl.api.records()
    assert s.count == 300
    assert [g.count for g in s.generations] == [100, 100, 100]
    assert s.overwritten == 292
    assert len(recs) == 8
    assert [p.generation for p in recs] == [(292 + i) % 3 for i in range(8)]
    assert sum(n for _, _, n in s.overall.histogram) == 300


def test_percentiles_agree_with_exact_ones_within_the_bound(impl: Impl) -> None:
    with gc_disabled():
        impl.api.start(4096)
        for i in range(600):
            make_cycles(i % 40)
            gc.collect(0 if i % 5 else 1)
        impl.api.stop()
    s = impl.api.stats()
    durations = [p.duration_ns for p in impl.api.records()]
    assert len(durations) == s.count == 600
    for q in (0, 1, 10, 25, 50, 75, 90, 99, 99.9, 100):
        exact = exact_percentile(durations, q)
        assert abs(s.percentile(q) - exact) <= exact * _hist.RELATIVE_ERROR, q
    gen1 = [p.duration_ns for p in impl.api.records() if p.generation == 1]
    assert abs(s.generations[1].percentile(50) - exact_percentile(gen1, 50)) <= (
        exact_percentile(gen1, 50) * _hist.RELATIVE_ERROR)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**11), min_size=1, max_size=300),
       st.floats(min_value=0, max_value=100))
def test_histogram_percentile_is_within_relative_error(values: list[int], q: float) -> None:
    hist: dict[int, int] = {}
    for v in values:
        hist[_hist.index(v)] = hist.get(_hist.index(v), 0) + 1
    got = _hist.percentile(tuple(sorted(hist.items())), len(values), max(values), q)
    exact = exact_percentile(values, q)
    assert abs(got - exact) <= exact * _hist.RELATIVE_ERROR


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=-5, max_value=2**62))
def test_c_and_python_histogram_indices_agree(value: int) -> None:
    core = pytest.importorskip("gcpause._core")
    assert core.hist_index(value) == _hist.index(value) == _pure.hist_index(value)
    idx = _hist.index(value)
    assert 0 <= idx < _hist.BUCKETS
    low, high = _hist.bounds(idx)
    if 0 <= value < _hist.MAX_NS:
        assert low <= value <= high


def test_public_error_bound_matches_the_histogram() -> None:
    assert gcpause.HIST_RELATIVE_ERROR == _hist.RELATIVE_ERROR == 1 / (2 * _hist.SUB)


def test_histogram_buckets_are_contiguous() -> None:
    prev_high = -1
    for idx in range(_hist.BUCKETS):
        low, high = _hist.bounds(idx)
        assert low == prev_high + 1 and high >= low
        assert _hist.index(low) == idx == _hist.index(high)
        prev_high = high
    assert prev_high == _hist.MAX_NS - 1


@pytest.mark.parametrize("q", ["50", None, -1, 100.5, float("nan"), True])
def test_percentile_rejects_bad_q(impl: Impl, q: object) -> None:
    s = impl.api.stats()
    with pytest.raises(TypeError if not isinstance(q, (int, float)) or q is True
                       else ValueError, match="q must"):
        s.percentile(q)  # type: ignore[arg-type]


# -- oracle ---------------------------------------------------------------------


def test_c_and_pure_see_the_same_collections_under_automatic_load() -> None:
    core = pytest.importorskip("gcpause._core")
    c_api, p_api = gcpause._recording.Api(core), gcpause._recording.Api(_pure)
    old = gc.get_threshold()
    was = gc.isenabled()
    gc.collect()
    gc.set_threshold(100, 5, 5)  # many automatic collections, all generations
    gc.enable()
    try:
        c_api.start(65536)
        p_api.start(65536)
        keep = []
        for i in range(200_000):
            x = Node()
            x.ref = x
            if i % 7 == 0:
                keep.append(x)
        p_api.stop()
        c_api.stop()
    finally:
        gc.set_threshold(*old)
        if not was:
            gc.disable()
    c_recs, p_recs = c_api.records(), p_api.records()
    # The workload did collect automatically (the free-threaded collector defers
    # far more: cpython-gc.md section 3).
    assert len(c_recs) > (5 if FREE_THREADED else 100)
    assert [p.generation for p in c_recs] == [p.generation for p in p_recs]
    assert [p.collected for p in c_recs] == [p.collected for p in p_recs]
    for a, b in zip(c_recs, p_recs):
        # Two recorders in one list nest their windows one way or the other.
        assert a.start_ns <= b.start_ns + b.duration_ns and b.start_ns <= a.start_ns + a.duration_ns
    cs, ps = c_api.stats(), p_api.stats()
    assert [g.count for g in cs.generations] == [g.count for g in ps.generations]
    assert sum(cs.anomalies.values()) == 0 and sum(ps.anomalies.values()) == 0
    core.reset()
    _pure.reset()


# -- placement in gc.callbacks ----------------------------------------------------


def _ours(impl: Impl) -> tuple[Any, ...]:
    return impl.backend.hooks()


@pytest.mark.usefixtures("empty_callbacks")
def test_alone_in_the_list_uses_one_callable(impl: Impl) -> None:
    impl.api.start()
    try:
        assert gc.callbacks == [_ours(impl)[0]]
    finally:
        impl.api.stop()


@pytest.mark.usefixtures("empty_callbacks")
def test_foreign_callbacks_are_bracketed_and_called_once(impl: Impl) -> None:
    calls: list[str] = []

    def foreign(phase: str, info: dict[str, Any]) -> None:
        calls.append(phase)

    def early(phase: str, info: dict[str, Any]) -> None:
        calls.append("early-" + phase)

    with gc_disabled():
        impl.api.start()
        try:
            h, p = _ours(impl)
            gc.callbacks.append(foreign)          # drifts into the start window
            gc.collect(0)                          # recorded, then repaired
            assert gc.callbacks == [h, foreign, p]
            gc.callbacks.insert(0, early)          # drifts into the stop window
            gc.collect(0)
            assert gc.callbacks[0] in (h, p) and gc.callbacks[-1] in (h, p)
            assert set(gc.callbacks[1:-1]) == {early, foreign}
            gc.callbacks.remove(foreign)
            gc.callbacks.remove(early)
            gc.collect(0)                          # back to one callable
            assert len(gc.callbacks) == 1 and gc.callbacks[0] in (h, p)
        finally:
            impl.api.stop()
    assert calls == ["start", "stop", "early-start", "start", "early-stop", "stop"]
    s = impl.api.stats()
    assert s.count == 3 and s.repairs == 3 and sum(s.anomalies.values()) == 0


@pytest.mark.usefixtures("empty_callbacks")
def test_recording_starts_bracketed_when_the_list_is_not_empty(impl: Impl) -> None:
    def foreign(phase: str, info: dict[str, Any]) -> None:
        pass

    gc.callbacks.append(foreign)
    try:
        impl.api.start()
        h, p = _ours(impl)
        assert gc.callbacks == [h, foreign, p]
        impl.api.stop()
        assert gc.callbacks == [foreign]
    finally:
        gc.callbacks.remove(foreign)


def test_two_recorders_fighting_for_places_back_off_and_both_record(impl: Impl) -> None:
    other = _pure if impl.backend is not _pure else pytest.importorskip("gcpause._core")
    other_api = gcpause._recording.Api(other)
    with gc_disabled():
        impl.api.start()
        other_api.start()
        try:
            for _ in range(500):
                gc.collect(0)
        finally:
            other_api.stop()
            impl.api.stop()
    a, b = impl.api.stats(), other_api.stats()
    other.reset()
    assert a.count == b.count == 500
    assert a.repairs + b.repairs < 100  # back-off: not a repair per collection


# -- anomalies --------------------------------------------------------------------


@pytest.mark.usefixtures("empty_callbacks")
def test_malformed_calls_are_counted_not_raised(impl: Impl) -> None:
    impl.api.start()
    try:
        hook = _ours(impl)[0]
        assert hook("stop", {"generation": 0}) is None           # no start
        assert hook("start", "not a dict") is None                # bad info
        assert hook() is None                                     # bad arity
        assert hook("start", {"generation": 0}) is None
        assert hook("stop", {"generation": "x", "collected": 0, "uncollectable": 0}) is None
    finally:
        impl.api.stop()
    an = impl.api.stats().anomalies
    assert an["unpaired_stop"] == 1 and an["bad_info"] == 3


# -- Recorder ---------------------------------------------------------------------


def test_recorder_sees_exactly_its_window(impl: Impl) -> None:
    with gc_disabled():
        gc.collect(0)
        with impl.Recorder() as outer:
            gc.collect(0)
            with impl.Recorder() as inner:
                gc.collect(1)
                assert inner.stats.count == 1  # live view
            gc.collect(2)
        gc.collect(0)
    assert [p.generation for p in outer.pauses] == [0, 1, 2]
    assert [p.generation for p in inner.pauses] == [1]
    assert outer.stats.count == 3 and inner.stats.count == 1
    assert not impl.api.is_recording()
    assert not any(cb in _ours(impl) for cb in gc.callbacks)


def test_recorder_does_not_disturb_global_recording(impl: Impl) -> None:
    with gc_disabled():
        impl.api.start()
        gc.collect(0)
        with impl.Recorder() as r:
            gc.collect(1)
        assert impl.api.is_recording()
        gc.collect(2)
        impl.api.stop()
    assert [p.generation for p in impl.api.records()] == [0, 1, 2]
    assert r.stats.count == 1


def test_recorder_keeps_recording_when_global_stop_is_called_inside(impl: Impl) -> None:
    with gc_disabled():
        with impl.Recorder() as r:
            impl.api.start()
            impl.api.stop()
            gc.collect(0)
    assert r.stats.count == 1


def test_recorder_is_reusable_but_not_reentrant(impl: Impl) -> None:
    rec = impl.Recorder()
    with pytest.raises(RuntimeError, match="not been used"):
        rec.stats
    with gc_disabled():
        with rec:
            gc.collect(0)
            with pytest.raises(RuntimeError, match="already active"):
                rec.__enter__()
        with rec:
            gc.collect(1)
            gc.collect(1)
    assert rec.stats.count == 2 and [p.generation for p in rec.pauses] == [1, 1]


def test_recorder_exits_cleanly_on_exception(impl: Impl) -> None:
    with pytest.raises(KeyError):
        with impl.Recorder() as r:
            gc.collect(0)
            raise KeyError("boom")
    assert r.stats.count >= 1 and not r.active


def test_concurrent_recorders_in_threads(impl: Impl) -> None:
    n_threads, per_thread = 8, 25
    barrier = threading.Barrier(n_threads)
    results: list[Any] = [None] * n_threads
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            with impl.Recorder() as r:
                for _ in range(per_thread):
                    gc.collect(0)
            results[i] = r
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with gc_disabled():
        with impl.Recorder(ring_size=10_000) as everything:
            threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
    assert not errors
    if FREE_THREADED:
        # There gc.collect() returns 0 without a collection while another thread's
        # (whole-heap) collection runs, so threads cannot count on their own.
        seen = {p.start_ns for r in results for p in r.pauses}
        assert seen <= {p.start_ns for p in everything.pauses}
        assert everything.stats.count == len(everything.pauses) > 0
        return
    # Every thread's own collections finished inside its window ...
    for i, r in enumerate(results):
        assert r.stats.count >= per_thread
        mine = [p for p in r.pauses if p.thread_id == threads[i].ident]
        assert len(mine) == per_thread
    # ... and the enclosing Recorder saw all of them exactly once.
    assert everything.stats.count == n_threads * per_thread
    assert len({p.start_ns for p in everything.pauses}) == n_threads * per_thread


@pytest.mark.parametrize("kwargs, exc", [
    ({"ring_size": "8"}, TypeError), ({"ring_size": 0}, ValueError),
    ({"ring_size": True}, TypeError), ({"ring_size": 1 << 40}, ValueError),
    ({"sites": 1}, TypeError),
])
def test_recorder_bad_input(impl: Impl, kwargs: dict[str, Any], exc: type) -> None:
    with pytest.raises(exc, match="ring_size|sites"):
        impl.Recorder(**kwargs)


# -- bad input to start ------------------------------------------------------------


@pytest.mark.parametrize("args, exc", [
    (("4096",), TypeError), ((4096.0,), TypeError), ((None,), TypeError),
    ((True,), TypeError), ((0,), ValueError), ((-1,), ValueError),
    ((1 << 23,), ValueError), ((1 << 80,), ValueError), ((16, "yes"), TypeError),
])
def test_start_rejects_bad_input_and_changes_nothing(
        impl: Impl, args: tuple[Any, ...], exc: type) -> None:
    before = list(gc.callbacks)
    with pytest.raises(exc, match="ring_size|sites"):
        impl.api.start(*args)
    assert gc.callbacks == before and not impl.api.is_recording()


def test_start_with_another_size_while_recording_is_a_value_error(impl: Impl) -> None:
    impl.api.start(64)
    try:
        with pytest.raises(ValueError, match="ring_size=64"):
            impl.api.start(128)
        assert impl.api.is_recording()
    finally:
        impl.api.stop()


# -- sites ---------------------------------------------------------------------------


def _trigger_here() -> None:
    gc.collect(0)


def test_sites_name_the_code_that_triggered_the_collection(impl: Impl) -> None:
    with gc_disabled():
        impl.api.start(sites=True)
        _trigger_here()
        impl.api.stop()
        impl.api.start()
        _trigger_here()
        impl.api.stop()
    (p,) = impl.api.records()
    assert p.site is None
    impl.api.start(sites=True)
    with gc_disabled():
        _trigger_here()
    impl.api.stop()
    (p,) = impl.api.records()
    assert p.site is not None
    path, rest = p.site.rsplit(":", 1)
    assert path == __file__ and rest.endswith("(_trigger_here)")


# -- lifecycle -----------------------------------------------------------------------


def test_start_stop_reset_cycles_do_not_grow_memory(impl: Impl) -> None:
    def cycle() -> None:
        impl.api.start(64)
        gc.collect(0)
        impl.api.stats()
        impl.api.records()
        impl.api.reset()
        with impl.Recorder(16) as r:
            gc.collect(0)
        r.stats
        impl.api.stop()

    # Every free-threaded collection scans the whole heap: fewer, slower cycles.
    warm, measured = (300, 300) if FREE_THREADED else (2500, 2000)
    with gc_disabled():
        # Warm up until free lists and caches are full, then expect no growth.
        for _ in range(warm):
            cycle()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            for _ in range(measured):
                cycle()
            grown = tracemalloc.get_traced_memory()[0] - base
        finally:
            tracemalloc.stop()
    assert grown < 32 * 1024, grown
    assert not any(cb in _ours(impl) for cb in gc.callbacks)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_starts_empty(impl: Impl) -> None:
    with gc_disabled():
        impl.api.start()
        gc.collect(0)
        with impl.Recorder() as r:
            gc.collect(0)
            r_fd, w_fd = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child
                try:
                    counts = [impl.api.stats().count, len(impl.api.records()), r.stats.count]
                    gc.collect(1)
                    counts += [impl.api.stats().count, r.stats.count]
                    os.write(w_fd, repr(counts).encode())
                finally:
                    os._exit(0)
            os.close(w_fd)
            data = os.read(r_fd, 1000)
            os.close(r_fd)
            os.waitpid(pid, 0)
        impl.api.stop()
    assert eval(data) == [0, 0, 0, 1, 1]
    assert impl.api.stats().count == 2  # the parent is untouched


def test_multi_phase_init_gives_independent_module_objects() -> None:
    core = pytest.importorskip("gcpause._core")
    import importlib.util

    spec = importlib.util.find_spec("gcpause._core")
    assert spec is not None
    second = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(second)  # type: ignore[union-attr]
    assert second is not core
    assert set(second.hooks()).isdisjoint(core.hooks())
    with gc_disabled():
        core.start(16)
        second.start(16)
        gc.collect(0)
        second.stop()
        gc.collect(0)
        core.stop()
    assert len(core.records()) == 2 and len(second.records()) == 1
    core.reset()
