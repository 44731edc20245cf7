"""gcpause.prometheus: exposition text, exact bucket counts, registry behaviour, errors.

Collections are explicit (``gc.collect(g)`` with the collector disabled), so every
count is exact.  Tests needing prometheus_client skip without it; the ImportError
test runs everywhere.
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

try:
    import prometheus_client
except ImportError:
    prometheus_client = None  # type: ignore[assignment]

needs_prometheus = pytest.mark.skipif(prometheus_client is None,
                                      reason="prometheus_client not installed")


@pytest.fixture
def registry() -> Any:
    if prometheus_client is None:
        pytest.skip("prometheus_client not installed")
    return prometheus_client.CollectorRegistry()


def _hooks_installed() -> bool:
    return any(cb in gc.callbacks for cb in gcpause._backend.hooks())


def _families(registry: Any) -> dict[str, Any]:
    from prometheus_client.parser import text_string_to_metric_families

    text = prometheus_client.generate_latest(registry).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def _expected_cumulative(gen: gcpause.GenStats, bounds_ns: list[int]) -> list[int]:
    """Reference: pauses shorter than each bound, from the recorder's buckets."""
    return [sum(n for _, high, n in gen.histogram if high < b) for b in bounds_ns] + [gen.count]


WORKLOAD = {0: 5, 1: 2, 2: 1}


def _run_workload() -> None:
    for g, n in WORKLOAD.items():
        for _ in range(n):
            junk: list[object] = []
            junk.append(junk)
            del junk
            gc.collect(g)


@needs_prometheus
def test_exposition_parses_and_buckets_equal_the_recorders(registry: Any,
                                                           gc_off: None) -> None:
    from gcpause.prometheus import DEFAULT_BUCKETS, GCPauseCollector

    # GIVEN a recorder window and the collector opened with the collector off
    with gcpause.Recorder() as rec:
        collector = GCPauseCollector(registry)
        try:
            # WHEN collections run and the registry is scraped
            _run_workload()
            fams = _families(registry)
        finally:
            collector.close()
    # THEN each generation's histogram matches the recorder exactly
    hist = fams["python_gc_pause_seconds"]
    assert hist.type == "histogram"
    bounds_ns = [round(b * 1e9) for b in DEFAULT_BUCKETS]
    for g in range(3):
        gen = rec.stats.generations[g]
        assert gen.count == WORKLOAD[g]
        samples = [s for s in hist.samples if s.labels["generation"] == str(g)]
        buckets = [s for s in samples if s.name.endswith("_bucket")]
        assert [float(s.labels["le"]) for s in buckets] == [*DEFAULT_BUCKETS, math.inf]
        assert [s.value for s in buckets] == _expected_cumulative(gen, bounds_ns)
        count = [s.value for s in samples if s.name.endswith("_count")]
        total = [s.value for s in samples if s.name.endswith("_sum")]
        assert count == [WORKLOAD[g]]
        assert total[0] == pytest.approx(gen.total_ns / 1e9, rel=1e-9, abs=1e-12)
    collected = fams["python_gc_pause_objects_collected"]
    assert collected.type == "counter"
    by_gen = {s.labels["generation"]: s.value for s in collected.samples}
    assert by_gen == {str(g): rec.stats.generations[g].collected for g in range(3)}
    assert sum(by_gen.values()) >= len(WORKLOAD)  # each workload cycle was collected
    uncollectable = fams["python_gc_pause_objects_uncollectable"]
    assert {s.labels["generation"] for s in uncollectable.samples} == {"0", "1", "2"}
    assert not _hooks_installed()


@needs_prometheus
def test_coexists_with_the_default_gc_collector_in_one_registry(registry: Any,
                                                                gc_off: None) -> None:
    from prometheus_client.gc_collector import GCCollector

    from gcpause.prometheus import GCPauseCollector

    GCCollector(registry=registry)
    collector = GCPauseCollector(registry)
    try:
        gc.collect(0)
        names = set(_families(registry))
    finally:
        collector.close()
    assert {"python_gc_objects_collected", "python_gc_objects_uncollectable",
            "python_gc_collections", "python_gc_pause_seconds",
            "python_gc_pause_objects_collected",
            "python_gc_pause_objects_uncollectable"} <= names


@needs_prometheus
def test_second_collector_in_one_registry_is_rejected_and_leaves_no_window(
        registry: Any) -> None:
    from gcpause.prometheus import GCPauseCollector, register

    first = register(registry)
    try:
        with pytest.raises(ValueError, match="python_gc_pause"):
            GCPauseCollector(registry)
    finally:
        first.close()
    assert not _hooks_installed()


@needs_prometheus
def test_close_unregisters_and_is_idempotent(registry: Any) -> None:
    from gcpause.prometheus import GCPauseCollector

    collector = GCPauseCollector(registry)
    collector.close()
    collector.close()
    assert list(collector.collect()) == []
    assert "python_gc_pause_seconds" not in _families(registry)
    assert repr(collector) == "<GCPauseCollector closed>"
    # The names are free again.
    GCPauseCollector(registry).close()


@needs_prometheus
def test_unregistered_collector_records_without_gcpause_start(gc_off: None) -> None:
    from gcpause.prometheus import GCPauseCollector

    assert not gcpause.is_recording()
    collector = GCPauseCollector(registry=None)
    try:
        gc.collect(1)
        gcpause.reset()  # the global figures are not the collector's
        gc.collect(1)
        hist = next(m for m in collector.collect() if m.name == "python_gc_pause_seconds")
        counts = {s.labels["generation"]: s.value for s in hist.samples
                  if s.name.endswith("_count")}
    finally:
        collector.close()
    assert counts == {"0": 0, "1": 2, "2": 0}


@needs_prometheus
def test_custom_buckets_on_recorder_boundaries(registry: Any, gc_off: None) -> None:
    from gcpause.prometheus import GCPauseCollector

    collector = GCPauseCollector(registry, buckets=[10_240e-9, 1.048576e-3, math.inf])
    try:
        gc.collect(0)
        fams = _families(registry)
    finally:
        collector.close()
    les = [s.labels["le"] for s in fams["python_gc_pause_seconds"].samples
           if s.name.endswith("_bucket") and s.labels["generation"] == "0"]
    assert les == ["1.024e-05", "0.001048576", "+Inf"]


@needs_prometheus
@pytest.mark.parametrize("buckets, exc, match", [
    ([1e-5], ValueError, r"1e-05 s is not a boundary.*9\.984e-06 s and 1\.0112e-05 s"),
    ([2e-5, 1e-5], ValueError, "boundary"),
    ([8.192e-6, 4.096e-6], ValueError, "strictly increasing"),
    ([1e-8], ValueError, "outside"),
    ([-1.0], ValueError, "outside"),
    ([float("nan")], ValueError, "outside"),
    ([1e9], ValueError, "outside"),
    ([], ValueError, "at least one"),
    (["0.001"], TypeError, "numbers"),
    ([True], TypeError, "numbers"),
    ("0.001", TypeError, "sequence"),
])
def test_bad_buckets_are_rejected_before_registering(registry: Any, buckets: Any,
                                                     exc: type[Exception],
                                                     match: str) -> None:
    from gcpause.prometheus import GCPauseCollector

    with pytest.raises(exc, match=match):
        GCPauseCollector(registry, buckets=buckets)
    assert "python_gc_pause_seconds" not in _families(registry)
    assert not _hooks_installed()


@needs_prometheus
def test_default_buckets_are_recorder_boundaries() -> None:
    from gcpause import _hist
    from gcpause.prometheus import DEFAULT_BUCKETS

    for b in DEFAULT_BUCKETS:
        ns = round(b * 1e9)
        assert _hist.bounds(_hist.index(ns))[0] == ns
    assert DEFAULT_BUCKETS[0] < 10e-6 and DEFAULT_BUCKETS[-1] > 5.0


def test_missing_prometheus_client_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['prometheus_client'] = None\n"
        "try:\n"
        "    import gcpause.prometheus\n"
        "except ImportError as e:\n"
        "    print(repr(str(e)), e.__cause__, e.__suppress_context__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == (
        "\"gcpause.prometheus requires prometheus_client; install 'gcpause[prometheus]'\" "
        "None True")
