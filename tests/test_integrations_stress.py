"""Collections from many threads while Prometheus and OpenTelemetry read concurrently.

For about two seconds, worker threads make cyclic garbage (automatic
collections) and call ``gc.collect(0)`` (every tenth time ``gc.collect(1)``, every
hundredth ``gc.collect(2)``), while one thread scrapes a
prometheus_client registry and another collects an OpenTelemetry in-memory
reader.  Every join has a timeout (a deadlock fails instead of hanging).  At the
end, with the collector off, the scrape's count, the OTel histogram's count, a
gcpause Recorder's count and an independent ``gc.callbacks`` counter agree per
generation.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any, Callable

import pytest

import gcpause

prometheus_client = pytest.importorskip("prometheus_client",
                                        reason="prometheus_client not installed")
sdk_metrics = pytest.importorskip("opentelemetry.sdk.metrics",
                                  reason="opentelemetry-sdk not installed")
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client.parser import text_string_to_metric_families

from gcpause.otel import GCPauseMetrics
from gcpause.prometheus import GCPauseCollector

DURATION_S = 2.0
WORKERS = 4
JOIN_TIMEOUT_S = 60.0


def _prom_counts(registry: Any) -> dict[int, int]:
    text = prometheus_client.generate_latest(registry).decode()
    for fam in text_string_to_metric_families(text):
        if fam.name == "python_gc_pause_seconds":
            counts = {int(s.labels["generation"]): int(s.value) for s in fam.samples
                      if s.name.endswith("_count")}
            infs = {int(s.labels["generation"]): int(s.value) for s in fam.samples
                    if s.name.endswith("_bucket") and s.labels["le"] == "+Inf"}
            assert counts == infs
            return counts
    raise AssertionError("python_gc_pause_seconds missing from the scrape")


def _otel_counts(reader: Any) -> dict[int, int]:
    data = reader.get_metrics_data()
    out = {0: 0, 1: 0, 2: 0}
    if data is None:
        return out
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == "cpython.gc.pause.duration":
                    for dp in metric.data.data_points:
                        assert sum(dp.bucket_counts) == dp.count
                        out[dp.attributes["cpython.gc.generation"]] = dp.count
    return out


class Node:
    __slots__ = ("payload", "ref")


def test_threads_collect_while_prometheus_and_otel_read() -> None:
    # GIVEN an independent counter, a Recorder and both exporters, set up
    # with the collector off so that none of them misses a collection
    seen = [0, 0, 0]

    def counter(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and 0 <= info["generation"] <= 2:
            seen[info["generation"]] += 1

    was_enabled = gc.isenabled()
    gc.disable()
    gc.callbacks.append(counter)
    registry = prometheus_client.CollectorRegistry()
    reader = InMemoryMetricReader()
    provider = sdk_metrics.MeterProvider(metric_readers=[reader])
    rec = gcpause.Recorder().__enter__()
    collector = GCPauseCollector(registry)
    metrics = GCPauseMetrics(provider)
    errors: list[BaseException] = []
    stop = threading.Event()
    reads = {"prometheus": 0, "otel": 0}
    alive: list[threading.Thread] = []

    def guarded(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)
        return run

    def worker() -> None:
        n = 0
        while not stop.is_set():
            for _ in range(200):
                a, b = Node(), Node()
                a.ref, b.ref = b, a
                a.payload = [a, b]
            n += 1
            gc.collect(2 if n % 100 == 0 else 1 if n % 10 == 0 else 0)
            time.sleep(0.001)

    def scrape_prometheus() -> None:
        while not stop.is_set():
            _prom_counts(registry)
            reads["prometheus"] += 1
            time.sleep(0.002)

    def read_otel() -> None:
        while not stop.is_set():
            _otel_counts(reader)
            reads["otel"] += 1
            time.sleep(0.002)

    threads = [threading.Thread(target=guarded(worker), daemon=True) for _ in range(WORKERS)]
    threads += [threading.Thread(target=guarded(scrape_prometheus), daemon=True),
                threading.Thread(target=guarded(read_otel), daemon=True)]
    try:
        gc.enable()
        # WHEN they all run for a bounded time
        for t in threads:
            t.start()
        time.sleep(DURATION_S)
        stop.set()
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t for t in threads if t.is_alive()]
        gc.disable()
        # THEN nothing deadlocked or failed, and no count was lost
        assert not alive, f"{len(alive)} threads still running after {JOIN_TIMEOUT_S} s"
        assert errors == []
        assert reads["prometheus"] > 0 and reads["otel"] > 0
        prom = _prom_counts(registry)
        otel = _otel_counts(reader)
        recorded = {g: rec.stats.generations[g].count for g in range(3)}
        assert seen[0] >= WORKERS and seen[1] >= 1  # the workers did run
        assert prom == otel == recorded == dict(enumerate(seen))
    finally:
        stop.set()
        if not alive:  # a thread stuck in the exporter's lock would block close()
            metrics.close()
        collector.close()
        rec.__exit__(None, None, None)
        provider.shutdown()
        gc.callbacks.remove(counter)
        if was_enabled:
            gc.enable()
        else:
            gc.disable()
