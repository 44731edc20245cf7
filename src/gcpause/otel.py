"""OpenTelemetry metrics for gcpause: the ``cpython.gc.pause.duration`` histogram.

Nothing runs inside a GC callback.  The metrics API has no asynchronous
histogram, so the pauses are replayed into a synchronous Histogram from the
callback of an observable counter, which the SDK invokes at each collection
cycle before it aggregates.  The replay reads the recorder window's
*aggregates* (per-bucket counts and the exact total), never the record ring,
so no pause is lost when the ring overwrites: each bucket's new count is
replayed with values inside that bucket, chosen so that their sum is the
exact new pause total.  With bucket bounds on recorder boundaries (the
default advisory) the exported counts, count and sum are exact; min and max
are within the bucket of the true value.
"""

from __future__ import annotations

try:
    from opentelemetry import metrics as _metrics
    from opentelemetry.metrics import Observation
except ImportError:
    raise ImportError(
        "gcpause.otel requires opentelemetry-api; install 'gcpause[otel]'"
    ) from None

import threading

from . import Recorder, __version__, _hist

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from types import TracebackType

    from opentelemetry.metrics import CallbackOptions, Histogram, MeterProvider

__all__ = ["DEFAULT_BUCKETS", "DURATION", "GENERATION", "PAUSE_TIME", "GCPauseMetrics",
           "instrument"]

#: Histogram of pause durations, unit "s" (``jvm.gc.duration`` style).
DURATION = "cpython.gc.pause.duration"
#: Observable counter of the total pause per generation, unit "s".
PAUSE_TIME = "cpython.gc.pause.time"
#: Attribute carrying the generation (int), as in the ``cpython.gc.*`` conventions.
GENERATION = "cpython.gc.generation"

#: Advisory bucket bounds in seconds: powers of two from 2**12 ns (4.096 µs)
#: to 2**33 ns (8.59 s), each a bucket boundary of the recorder's histogram.
DEFAULT_BUCKETS: tuple[float, ...] = _hist.DEFAULT_EXPORT_BUCKETS_S


def _bounds_ns(buckets: Sequence[float]) -> frozenset[int]:
    # OTel's explicit bounds are all finite: +Inf is implied, not listed.
    if not isinstance(buckets, (str, bytes)) and float("inf") in list(buckets):
        raise ValueError(f"buckets: inf s is outside [{2 * _hist.SUB / 1e9:g}, "
                         f"{_hist.MAX_NS / 1e9:g}) s")
    return frozenset(_hist.export_bounds_ns(buckets))


def _replay_values(delta: Sequence[tuple[int, int, int]], total_ns: int,
                   bounds: frozenset[int]) -> list[int]:
    """Durations (ns) reproducing ``delta`` bucket by bucket, summing to ``total_ns``.

    ``delta`` holds ``(low_ns, high_ns, new_count)``.  A value equal to a
    histogram bound would be counted below it by an explicit-bucket
    aggregation (``value <= bound``), while the recorder counts it above, so
    such lows are raised by 1 ns.  If ``total_ns`` is outside what the buckets
    allow (a torn snapshot) the sum is clamped.
    """
    spans = [(low + 1 if low in bounds else low, high, n)
             for low, high, n in delta]
    residual = total_ns - sum(lo * n for lo, _, n in spans)
    values: list[int] = []
    for lo, high, n in spans:
        width = high - lo
        for _ in range(n):
            add = min(max(residual, 0), width)
            residual -= add
            values.append(lo + add)
    return values


class GCPauseMetrics:
    """Exports gcpause's figures through an OpenTelemetry meter.

    Instruments, on the meter ``gcpause`` of ``meter_provider`` (default: the
    global one), with attribute ``cpython.gc.generation`` (int 0..2):

    - ``cpython.gc.pause.duration``: Histogram, unit ``s``, one measurement per
      collection; its count is the number of collections per generation.
      ``buckets`` (seconds) is passed as the explicit-bucket advisory; each
      bound must be a recorder boundary (ValueError otherwise).
    - ``cpython.gc.pause.time``: ObservableCounter, unit ``s``, the exact total
      pause per generation.  Its callback also replays the new pauses into the
      histogram, so both appear in the same collection cycle of every reader.

    Records through its own ``gcpause.Recorder`` window from construction until
    :meth:`close` (no ``gcpause.start()`` needed; ``stop()``/``reset()`` do not
    affect it).  OpenTelemetry cannot unregister instruments: after ``close()``
    they report nothing new.  Cost per export cycle: one snapshot plus one
    ``Histogram.record`` per collection since the previous cycle.
    """

    def __init__(self, meter_provider: MeterProvider | None = None, *,
                 buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        self._bounds = _bounds_ns(buckets)
        meter = _metrics.get_meter("gcpause", __version__, meter_provider=meter_provider)
        advisory = sorted(ns / 1e9 for ns in self._bounds)
        try:
            self._histogram: Histogram = meter.create_histogram(
                DURATION, unit="s", description="Pause of the CPython cyclic garbage "
                "collector, measured by gcpause.",
                explicit_bucket_boundaries_advisory=advisory)
        except TypeError:  # opentelemetry-api < 1.30: configure a View instead
            self._histogram = meter.create_histogram(
                DURATION, unit="s", description="Pause of the CPython cyclic garbage "
                "collector, measured by gcpause.")
        self._lock = threading.Lock()
        self._seen: list[dict[int, int]] = [{}, {}, {}]
        self._seen_total = [0, 0, 0]
        rec = Recorder()
        rec.__enter__()
        self._recorder: Recorder | None = rec
        meter.create_observable_counter(
            PAUSE_TIME, callbacks=[self._observe], unit="s",
            description="Total pause of the CPython cyclic garbage collector, "
            "measured by gcpause.")

    def _replay(self) -> list[Observation]:
        """Record the pauses since the last call; return the totals.  Holds the lock."""
        rec = self._recorder
        if rec is None:
            return []
        stats = rec.stats
        out = []
        for g in range(3):
            gen = stats.generations[g]
            seen = self._seen[g]
            delta = []
            for low, high, n in gen.histogram:
                new = n - seen.get(low, 0)
                if new > 0:
                    delta.append((low, high, new))
                    seen[low] = n
            attrs = {GENERATION: g}
            if delta:
                values = _replay_values(delta, gen.total_ns - self._seen_total[g],
                                        self._bounds)
                record = self._histogram.record
                for v in values:
                    record(v / 1e9, attrs)
            self._seen_total[g] = gen.total_ns
            out.append(Observation(gen.total_ns / 1e9, attrs))
        return out

    def _observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            return self._replay()

    def close(self) -> None:
        """Stop recording; idempotent.

        Pauses not yet exported are recorded into the histogram first, so the
        next collection cycle still includes them; later cycles add nothing.
        """
        with self._lock:
            self._replay()
            rec, self._recorder = self._recorder, None
        if rec is not None:
            rec.__exit__(None, None, None)

    def __enter__(self) -> GCPauseMetrics:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<GCPauseMetrics {'closed' if self._recorder is None else 'open'}>"


def instrument(meter_provider: MeterProvider | None = None, *,
               buckets: Sequence[float] = DEFAULT_BUCKETS) -> GCPauseMetrics:
    """Create and return a :class:`GCPauseMetrics` (call ``close()`` to stop)."""
    return GCPauseMetrics(meter_provider, buckets=buckets)
