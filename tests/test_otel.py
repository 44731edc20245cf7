"""gcpause.otel: the pause histogram reaches an in-memory reader with exact counts.

Collections are explicit (``gc.collect(g)`` with the collector disabled).  Tests
needing the OpenTelemetry SDK skip without it; the ImportError test runs everywhere.
"""

from __future__ import annotations

import gc
import math
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import gcpause
from gcpause import _hist

try:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
except ImportError:
    MeterProvider = None  # type: ignore[assignment,misc]

needs_otel = pytest.mark.skipif(MeterProvider is None,
                                reason="opentelemetry-sdk not installed")


@pytest.fixture
def sdk() -> Iterator[tuple[Any, Any]]:
    """(meter provider, in-memory reader), shut down afterwards."""
    if MeterProvider is None:
        pytest.skip("opentelemetry-sdk not installed")
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    yield provider, reader
    provider.shutdown()


def _hooks_installed() -> bool:
    return any(cb in gc.callbacks for cb in gcpause._backend.hooks())


def _points(reader: Any, name: str) -> dict[int, Any]:
    """Data points of metric ``name`` by generation."""
    data = reader.get_metrics_data()
    out: dict[int, Any] = {}
    if data is None:  # nothing to report
        return out
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    assert sm.scope.name == "gcpause"
                    for dp in metric.data.data_points:
                        out[dp.attributes["cpython.gc.generation"]] = dp
    return out


def _expected_bucket_counts(gen: gcpause.GenStats, bounds_ns: list[int]) -> list[int]:
    """Reference: per-bucket counts ((b[i-1], b[i]]) from the recorder's buckets."""
    cum = [sum(n for _, high, n in gen.histogram if high < b) for b in bounds_ns]
    cum.append(gen.count)
    return [c - (cum[i - 1] if i else 0) for i, c in enumerate(cum)]


WORKLOAD = {0: 5, 1: 2, 2: 1}


def _run_workload(times: int = 1) -> None:
    for _ in range(times):
        for g, n in WORKLOAD.items():
            for _ in range(n):
                junk: list[object] = []
                junk.append(junk)
                del junk
                gc.collect(g)


@needs_otel
def test_histogram_arrives_with_exact_counts_buckets_and_sum(sdk: tuple[Any, Any],
                                                             gc_off: None) -> None:
    from gcpause.otel import DEFAULT_BUCKETS, GCPauseMetrics

    provider, reader = sdk
    with gcpause.Recorder() as rec, GCPauseMetrics(provider):
        _run_workload()
        points = _points(reader, "cpython.gc.pause.duration")
        totals = _points(reader, "cpython.gc.pause.time")
    bounds_ns = [round(b * 1e9) for b in DEFAULT_BUCKETS]
    assert sorted(points) == [0, 1, 2]
    for g, dp in points.items():
        gen = rec.stats.generations[g]
        assert dp.count == gen.count == WORKLOAD[g]
        assert list(dp.explicit_bounds) == list(DEFAULT_BUCKETS)
        assert list(dp.bucket_counts) == _expected_bucket_counts(gen, bounds_ns)
        assert dp.sum == pytest.approx(gen.total_ns / 1e9, rel=1e-9)
        assert _hist.index(round(dp.max * 1e9)) == _hist.index(gen.max_ns)
        assert totals[g].value == pytest.approx(gen.total_ns / 1e9, rel=1e-12)
    assert not _hooks_installed()


@needs_otel
def test_successive_cycles_accumulate_without_double_counting(sdk: tuple[Any, Any],
                                                              gc_off: None) -> None:
    from gcpause.otel import GCPauseMetrics

    provider, reader = sdk
    with GCPauseMetrics(provider):
        counts = []
        for _ in range(3):
            _run_workload()
            counts.append({g: dp.count for g, dp in
                           _points(reader, "cpython.gc.pause.duration").items()})
        # A cycle with no new collection reports the same cumulative figures.
        counts.append({g: dp.count for g, dp in
                       _points(reader, "cpython.gc.pause.duration").items()})
    assert counts == [{g: n * k for g, n in WORKLOAD.items()} for k in (1, 2, 3, 3)]


@needs_otel
def test_no_pause_is_lost_when_the_ring_overwrites(sdk: tuple[Any, Any],
                                                   gc_off: None) -> None:
    from gcpause.otel import GCPauseMetrics

    provider, reader = sdk
    gcpause.start(ring_size=16)  # a tiny shared ring
    try:
        with gcpause.Recorder() as rec, GCPauseMetrics(provider):
            for _ in range(200):
                gc.collect(0)
            point = _points(reader, "cpython.gc.pause.duration")[0]
    finally:
        gcpause.stop()
    assert rec.stats.overwritten > 0  # the records are gone from the ring...
    assert point.count == 200  # ...yet every pause was exported
    assert point.sum == pytest.approx(rec.stats.generations[0].total_ns / 1e9, rel=1e-9)


@needs_otel
def test_every_reader_receives_every_pause(gc_off: None) -> None:
    from gcpause.otel import instrument

    readers = [InMemoryMetricReader(), InMemoryMetricReader()]
    provider = MeterProvider(metric_readers=readers)
    metrics = instrument(provider)
    try:
        gc.collect(2)
        first = _points(readers[0], "cpython.gc.pause.duration")[2].count
        gc.collect(2)
        counts = [_points(r, "cpython.gc.pause.duration")[2].count for r in readers]
    finally:
        metrics.close()
        provider.shutdown()
    assert first == 1
    assert counts == [2, 2]


@needs_otel
def test_close_flushes_pending_pauses_then_stops(sdk: tuple[Any, Any],
                                                 gc_off: None) -> None:
    from gcpause.otel import GCPauseMetrics

    provider, reader = sdk
    metrics = GCPauseMetrics(provider)
    gc.collect(1)  # not exported yet when close() runs
    metrics.close()
    metrics.close()
    gc.collect(1)
    first = _points(reader, "cpython.gc.pause.duration")
    gc.collect(1)
    second = _points(reader, "cpython.gc.pause.duration")
    assert {g: dp.count for g, dp in first.items()} == {1: 1}
    assert {g: dp.count for g, dp in second.items()} == {1: 1}
    assert _points(reader, "cpython.gc.pause.time") == {}
    assert repr(metrics) == "<GCPauseMetrics closed>"
    assert not _hooks_installed()


@needs_otel
@pytest.mark.parametrize("buckets, exc, match", [
    ([1e-5], ValueError, r"not a boundary.*9\.984e-06 s and 1\.0112e-05 s"),
    ([8.192e-6, 4.096e-6], ValueError, "strictly increasing"),
    ([1e-8], ValueError, "outside"),
    ([math.inf], ValueError, "outside"),
    ([], ValueError, "at least one"),
    ([None], TypeError, "numbers"),
    (b"x", TypeError, "sequence"),
])
def test_bad_buckets_are_rejected(sdk: tuple[Any, Any], buckets: Any,
                                  exc: type[Exception], match: str) -> None:
    from gcpause.otel import GCPauseMetrics

    with pytest.raises(exc, match=match):
        GCPauseMetrics(sdk[0], buckets=buckets)
    assert not _hooks_installed()


@needs_otel
@pytest.mark.parametrize("seed", range(20))
def test_replayed_values_stay_in_their_buckets_and_sum_exactly(seed: int) -> None:
    import random

    from gcpause.otel import _replay_values

    rng = random.Random(seed)
    bounds = frozenset(1 << k for k in range(12, 34))
    # Some durations sit exactly on a bound: the recorder cannot tell them from
    # the next nanoseconds of their bucket, so the replay puts them 1 ns above.
    durations = [rng.choice([1 << rng.randrange(12, 20), rng.randrange(100, 50_000_000)])
                 for _ in range(rng.randrange(1, 60))]
    on_bound = sum(d in bounds for d in durations)
    buckets: dict[int, int] = {}
    for d in durations:
        buckets[_hist.index(d)] = buckets.get(_hist.index(d), 0) + 1
    delta = [(*_hist.bounds(i), n) for i, n in sorted(buckets.items())]
    values = _replay_values(delta, sum(durations), bounds)
    assert sorted(_hist.index(v) for v in values) == sorted(_hist.index(d) for d in durations)
    assert 0 <= sum(values) - sum(durations) <= on_bound
    if not on_bound:
        assert sum(values) == sum(durations)
    assert not bounds & set(values)  # never exactly on a bound (counted below it)


def test_missing_opentelemetry_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['opentelemetry'] = None\n"
        "try:\n"
        "    import gcpause.otel\n"
        "except ImportError as e:\n"
        "    print(repr(str(e)), e.__cause__, e.__suppress_context__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == (
        "\"gcpause.otel requires opentelemetry-api; install 'gcpause[otel]'\" None True")
