"""Prometheus collector for gcpause: per-generation GC pause histograms.

Everything is read from a recorder window's aggregates at scrape time; nothing
runs inside a GC callback and no prometheus_client lock is ever taken there
(the callback-side histogram removed from prometheus_client in 0.5 deadlocked
exactly that way, client_python #363).  Bucket bounds are boundaries of
gcpause's own log-linear histogram, so every ``le`` count is exact.
"""

from __future__ import annotations

try:
    from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily
    from prometheus_client.registry import REGISTRY
    from prometheus_client.utils import floatToGoString as _float_to_go
except ImportError:
    raise ImportError(
        "gcpause.prometheus requires prometheus_client; install 'gcpause[prometheus]'"
    ) from None

from . import Recorder, _hist

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from typing import Callable

    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry

    from . import GenStats

__all__ = ["DEFAULT_BUCKETS", "GCPauseCollector", "register"]

#: Default ``le`` bounds in seconds: powers of two from 2**12 ns (4.096 µs) to
#: 2**33 ns (8.59 s).  Each is a bucket boundary of the recorder's histogram.
DEFAULT_BUCKETS: tuple[float, ...] = _hist.DEFAULT_EXPORT_BUCKETS_S

_GENERATIONS = (0, 1, 2)
_le_text: Callable[[float], str] = _float_to_go  # the exposition's float format

_bounds_ns = _hist.export_bounds_ns


def _cumulative(gen: GenStats, bounds_ns: Sequence[int]) -> list[int]:
    """Counts of pauses shorter than each bound, then the total (the +Inf bucket).

    Each bound is a bucket low of the recorder's histogram, so every recorder
    bucket lies wholly below or wholly at/above it and the count is exact.
    """
    out: list[int] = []
    seen = 0
    hist = gen.histogram
    i = 0
    for bound in bounds_ns:
        while i < len(hist) and hist[i][1] < bound:
            seen += hist[i][2]
            i += 1
        out.append(seen)
    out.append(seen + sum(n for _, _, n in hist[i:]))
    return out


class GCPauseCollector:
    """A prometheus_client collector exposing gcpause's pause figures.

    Metrics (label ``generation`` = "0", "1", "2"):

    - ``python_gc_pause_seconds`` histogram: ``le`` buckets from ``buckets``
      (seconds; default :data:`DEFAULT_BUCKETS`), ``_count`` and ``_sum``
      (exact total pause).  A bucket ``le=b`` counts pauses shorter than b
      (b is a recorder bucket boundary; a pause of exactly b ns cannot be told
      apart from b+1 ns and is counted above).
    - ``python_gc_pause_objects_collected_total`` and
      ``python_gc_pause_objects_uncollectable_total`` counters: objects found
      by the recorded collections.  They do not collide with the default
      ``python_gc_objects_*`` from prometheus_client's ``GCCollector``.

    The collector records through its own ``gcpause.Recorder`` window, opened
    here and closed by :meth:`close`: it does not need ``gcpause.start()``, and
    ``gcpause.stop()``/``reset()`` do not affect it.  Figures count from
    construction (a forked child starts again from zero).

    ``registry``: where to register (``None``: do not register).  Raises
    ValueError (from prometheus_client) if these names are already
    registered there, e.g. by a second collector; TypeError/ValueError for
    bad ``buckets``.  Per process only: prometheus_client's multiprocess mode
    does not aggregate custom collectors.
    """

    def __init__(self, registry: CollectorRegistry | None = REGISTRY, *,
                 buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        self._bounds_ns = _bounds_ns(buckets)
        self._le = [_le_text(ns / 1e9) for ns in self._bounds_ns] + ["+Inf"]
        self._registry: CollectorRegistry | None = None
        rec = Recorder()
        rec.__enter__()
        self._recorder: Recorder | None = rec
        if registry is not None:
            try:
                registry.register(self)
            except BaseException:
                self.close()
                raise
            self._registry = registry

    def describe(self) -> Iterator[Metric]:
        """The families without samples (lets the registry detect name clashes)."""
        yield HistogramMetricFamily("python_gc_pause_seconds", _HIST_HELP,
                                    labels=["generation"])
        yield CounterMetricFamily("python_gc_pause_objects_collected", _COLLECTED_HELP,
                                  labels=["generation"])
        yield CounterMetricFamily("python_gc_pause_objects_uncollectable",
                                  _UNCOLLECTABLE_HELP, labels=["generation"])

    def collect(self) -> Iterable[Metric]:
        """Read the window's aggregates (one snapshot) and build the families."""
        rec = self._recorder
        if rec is None:
            return []
        stats = rec.stats
        hist = HistogramMetricFamily("python_gc_pause_seconds", _HIST_HELP,
                                     labels=["generation"])
        collected = CounterMetricFamily("python_gc_pause_objects_collected",
                                        _COLLECTED_HELP, labels=["generation"])
        uncollectable = CounterMetricFamily("python_gc_pause_objects_uncollectable",
                                            _UNCOLLECTABLE_HELP, labels=["generation"])
        for g in _GENERATIONS:
            gen = stats.generations[g]
            label = [str(g)]
            counts = _cumulative(gen, self._bounds_ns)
            hist.add_metric(label, list(zip(self._le, counts)), gen.total_ns / 1e9)
            collected.add_metric(label, gen.collected)
            uncollectable.add_metric(label, gen.uncollectable)
        return [hist, collected, uncollectable]

    def close(self) -> None:
        """Unregister (if registered here) and close the recording window.

        Idempotent.  Afterwards ``collect()`` yields nothing.
        """
        registry, self._registry = self._registry, None
        if registry is not None:
            try:
                registry.unregister(self)
            except KeyError:
                pass
        rec, self._recorder = self._recorder, None
        if rec is not None:
            rec.__exit__(None, None, None)

    def __repr__(self) -> str:
        state = "closed" if self._recorder is None else "open"
        return f"<GCPauseCollector {state}>"


_HIST_HELP = "Pause of the cyclic garbage collector, measured by gcpause."
_COLLECTED_HELP = "Objects collected by the collections gcpause recorded."
_UNCOLLECTABLE_HELP = "Objects found uncollectable by the collections gcpause recorded."


def register(registry: CollectorRegistry | None = REGISTRY, *,
             buckets: Sequence[float] = DEFAULT_BUCKETS) -> GCPauseCollector:
    """Create a :class:`GCPauseCollector` registered in ``registry`` and return it."""
    return GCPauseCollector(registry, buckets=buckets)
