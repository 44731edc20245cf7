"""Recording API over a backend (``_core`` or ``_pure``): Pause, Stats, Recorder.

Both backends return the same raw tuples; this module turns them into
immutable public objects.  Nothing here runs inside a GC callback.
"""


TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType, TracebackType
    from typing import Any, Callable, TypeVar

    F = TypeVar("F", bound=Callable[..., Any])

from . import DEFAULT_RING_SIZE  # noqa: E402 - defined before gcpause imports us

ANOMALY_KINDS = ("unpaired_start", "unpaired_stop", "bad_info", "repair_failed")


def _sig3(v: float) -> str:
    """Three significant digits, trailing zeros kept: 1.20, 12.0, 120."""
    return f"{v:.0f}" if v >= 99.95 else f"{v:#.3g}"


def fmt_ns(ns: float) -> str:
    """A duration for humans, three significant digits: ``850 ns``, ``12.0 µs``,
    ``4.56 ms``, ``1.23 s``, ``1234 s``."""
    if ns < 999.5:
        return f"{ns:.0f} ns"
    for unit, scale in (("µs", 1e3), ("ms", 1e6)):
        if ns < scale * 999.5:
            return f"{_sig3(ns / scale)} {unit}"
    return f"{_sig3(ns / 1e9)} s"


class Pause(tuple):  # type: ignore[type-arg]
    """One collection: ``(generation, start_ns, duration_ns, collected,
    uncollectable, thread_id)``.

    A tuple (unpack it, index it, compare it) with named fields.
    ``generation`` is what CPython reported (``-1`` if it reported nothing
    usable); ``start_ns`` is on the ``time.monotonic_ns()`` clock;
    ``duration_ns`` is gcpause's own measurement; ``thread_id`` is
    ``threading.get_ident()`` of the thread that ran the collection.

    Two attributes are not part of the tuple: ``cpython_duration_ns``,
    CPython's own figure from the callback's ``duration`` key (3.15+, else
    ``None``), and ``site``, ``"file:line (function)"`` of the Python code
    running when the collection started (only when recording with
    ``sites=True``, else ``None``).
    """

    _fields = ("generation", "start_ns", "duration_ns", "collected", "uncollectable",
               "thread_id")
    cpython_duration_ns: "int | None" = None
    site: "str | None" = None

    def __new__(cls, generation: int, start_ns: int, duration_ns: int, collected: int,
                uncollectable: int, thread_id: int,
                cpython_duration_ns: "int | None" = None,
                site: "str | None" = None) -> "Pause":
        self = tuple.__new__(cls, (generation, start_ns, duration_ns, collected,
                                   uncollectable, thread_id))
        if cpython_duration_ns is not None:
            self.cpython_duration_ns = cpython_duration_ns
        if site is not None:
            self.site = site
        return self

    @classmethod
    def _from_raw(cls, raw: "tuple[Any, ...]") -> "Pause":
        gen, start, dur, collected, uncollectable, tid, cpy, site = raw
        return cls(gen, start, dur, collected, uncollectable, tid, cpy,
                   None if site is None else f"{site[0]}:{site[1]} ({site[2]})")

    generation = property(lambda self: self[0], doc="Generation as CPython reported it.")
    start_ns = property(lambda self: self[1], doc="Start, time.monotonic_ns() clock.")
    duration_ns = property(lambda self: self[2], doc="Pause length in nanoseconds.")
    collected = property(lambda self: self[3], doc="Objects collected.")
    uncollectable = property(lambda self: self[4], doc="Objects found uncollectable.")
    thread_id = property(lambda self: self[5], doc="Ident of the collecting thread.")

    def _asdict(self) -> "dict[str, Any]":
        d = dict(zip(self._fields, self))
        d["cpython_duration_ns"] = self.cpython_duration_ns
        d["site"] = self.site
        return d

    def __repr__(self) -> str:
        extra = ("" if self.cpython_duration_ns is None
                 else f", cpython_duration_ns={self.cpython_duration_ns}")
        if self.site is not None:
            extra += f", site={self.site!r}"
        return ("Pause(" + ", ".join(f"{k}={v!r}" for k, v in zip(self._fields, self))
                + extra + ")")

    def __reduce__(self) -> "tuple[Any, ...]":
        return (Pause, (*self, self.cpython_duration_ns, self.site))


class _Frozen:
    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")


class GenStats(_Frozen):
    """Aggregates of one generation (or of all): exact sums, histogram percentiles."""

    __slots__ = ("count", "total_ns", "max_ns", "collected", "uncollectable", "_hist")
    count: int
    total_ns: int
    max_ns: int
    collected: int
    uncollectable: int
    _hist: tuple[tuple[int, int], ...]

    def __init__(self, raw: "tuple[Any, ...]") -> None:
        for name, value in zip(self.__slots__[:5], raw):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_hist", tuple(tuple(p) for p in raw[5]))

    @property
    def mean_ns(self) -> float:
        """Mean pause in ns (0.0 when there was none)."""
        return self.total_ns / self.count if self.count else 0.0

    def percentile(self, q: float) -> int:
        """Nearest-rank ``q``-th percentile of pause duration in ns, 0 <= q <= 100.

        Within ``gcpause.HIST_RELATIVE_ERROR`` (1/128) of the exact value;
        ``percentile(100)`` is ``max_ns`` exactly; 0 when nothing was recorded.
        """
        if isinstance(q, bool) or not isinstance(q, (int, float)):
            raise TypeError(f"q must be a number, not {type(q).__name__}")
        if not 0 <= q <= 100:  # also rejects NaN
            raise ValueError(f"q must be between 0 and 100, got {q!r}")
        from . import _hist  # noqa: PLC0415 - kept out of `import gcpause`

        return _hist.percentile(self._hist, self.count, self.max_ns, q)

    @property
    def histogram(self) -> tuple[tuple[int, int, int], ...]:
        """Non-empty buckets as ``(low_ns, high_ns, count)``, shortest first."""
        from . import _hist  # noqa: PLC0415 - kept out of `import gcpause`

        return tuple((*_hist.bounds(i), n) for i, n in self._hist)

    def __repr__(self) -> str:
        if not self.count:
            return "GenStats(count=0)"
        return (f"GenStats(count={self.count}, total={fmt_ns(self.total_ns)}, "
                f"mean={fmt_ns(self.mean_ns)}, p50={fmt_ns(self.percentile(50))}, "
                f"p99={fmt_ns(self.percentile(99))}, max={fmt_ns(self.max_ns)}, "
                f"collected={self.collected}, uncollectable={self.uncollectable})")


class Stats(_Frozen):
    """Immutable snapshot of a recording window (global or a Recorder's).

    The overall figures are attributes of the snapshot itself (``count``,
    ``total_ns``, ``max_ns``, ``mean_ns``, ``percentile(q)``, ``collected``,
    ``uncollectable``); ``generations[g]`` holds the same for generation g.
    ``wall_ns`` is the time since start/reset (up to stop or the Recorder's
    exit), ``gc_share`` the pause total over it, ``overwritten`` how many of
    the window's records the ring has dropped (aggregates never drop
    anything), ``anomalies`` the counts per kind of oddity seen in callbacks,
    ``repairs`` how often gcpause restored its place in ``gc.callbacks``.
    """

    __slots__ = ("overall", "generations", "wall_ns", "overwritten", "_anomalies",
                 "repairs", "start_ns", "first_seq", "end_seq")
    overall: "GenStats"
    generations: "tuple[GenStats, GenStats, GenStats]"
    wall_ns: int
    overwritten: int
    _anomalies: tuple[tuple[str, int], ...]
    repairs: int
    start_ns: int
    first_seq: int
    end_seq: int

    def __init__(self, raw: "tuple[Any, ...]") -> None:
        origin, end, now, first_seq, end_seq, overwritten, slots, anom, repairs = raw
        s = object.__setattr__
        s(self, "overall", GenStats(slots[3]))
        s(self, "generations", tuple(GenStats(slots[g]) for g in range(3)))
        s(self, "wall_ns", max(0, (end or now) - origin))
        s(self, "overwritten", overwritten)
        s(self, "_anomalies", tuple(zip(ANOMALY_KINDS, anom)))
        s(self, "repairs", repairs)
        s(self, "start_ns", origin)
        s(self, "first_seq", first_seq)
        s(self, "end_seq", end_seq)

    count = property(lambda self: self.overall.count, doc="Collections recorded.")
    total_ns = property(lambda self: self.overall.total_ns, doc="Sum of pauses, ns.")
    max_ns = property(lambda self: self.overall.max_ns, doc="Longest pause, ns.")
    mean_ns = property(lambda self: self.overall.mean_ns, doc="Mean pause, ns.")
    collected = property(lambda self: self.overall.collected, doc="Objects collected.")
    uncollectable = property(lambda self: self.overall.uncollectable,
                             doc="Objects found uncollectable.")

    def percentile(self, q: float) -> int:
        """Overall ``q``-th percentile in ns; see :meth:`GenStats.percentile`."""
        return self.overall.percentile(q)

    @property
    def gc_share(self) -> float:
        """Pause total divided by ``wall_ns`` (0.0 for an empty window)."""
        return self.total_ns / self.wall_ns if self.wall_ns else 0.0

    @property
    def anomalies(self) -> dict[str, int]:
        """A new dict ``{kind: count}`` with every kind, zeros included."""
        return dict(self._anomalies)

    def __repr__(self) -> str:
        anomalies = {k: v for k, v in self._anomalies if v}
        gens = ", ".join(f"{g}: {self.generations[g].count}" for g in range(3))
        body = (f"count={self.count} ({gens}), total={fmt_ns(self.total_ns)}, "
                f"gc_share={self.gc_share:.2%}, wall={fmt_ns(self.wall_ns)}")
        if self.count:
            body += (f", mean={fmt_ns(self.mean_ns)}, p50={fmt_ns(self.percentile(50))}, "
                     f"p99={fmt_ns(self.percentile(99))}, max={fmt_ns(self.max_ns)}")
        if self.overwritten:
            body += f", overwritten={self.overwritten}"
        if anomalies:
            body += f", anomalies={anomalies}"
        return f"Stats({body})"


def _check_ring_size(ring_size: object) -> int:
    if isinstance(ring_size, bool) or not isinstance(ring_size, int):
        raise TypeError(f"ring_size must be an int, not {type(ring_size).__name__}")
    return ring_size


class Recorder:
    """Context manager exposing the collections that finish inside its block.

    Entering starts recording if nothing else is (and stops it again on
    exit unless ``start()`` was called meanwhile); global stats and other
    Recorders are not disturbed.  After the block, ``stats`` and ``pauses``
    cover exactly that window; inside it, ``stats`` is a live snapshot.
    Reusable (each ``with`` is a new window) but not re-entrant.  ``pauses``
    keeps at most the ring's newest records (see ``stats.overwritten``).
    """

    _backend: "ModuleType"

    def __init__(self, ring_size: int = DEFAULT_RING_SIZE, sites: bool = False) -> None:
        self._ring_size = _check_ring_size(ring_size)
        if not 1 <= ring_size <= self._backend.RING_MAX:
            raise ValueError(f"ring_size must be between 1 and {self._backend.RING_MAX}, "
                             f"got {ring_size!r}")
        if not isinstance(sites, bool):
            raise TypeError(f"sites must be a bool, not {type(sites).__name__}")
        self._sites = sites
        self._wid: "int | None" = None
        self._stats: "Stats | None" = None
        self.pauses: "list[Pause]" = []

    def __enter__(self) -> "Recorder":
        if self._wid is not None:
            raise RuntimeError("this Recorder is already active; use a new one to nest")
        self._wid = self._backend.open_window(self._ring_size, self._sites)
        self._stats = None
        self.pauses = []
        return self

    def __exit__(self, exc_type: "type[BaseException] | None", exc: "BaseException | None",
                 tb: "TracebackType | None") -> None:
        wid, self._wid = self._wid, None
        if wid is None:
            return
        raw, recs = self._backend.close_window(wid)
        self._stats = Stats(raw)
        self.pauses = [Pause._from_raw(r) for r in recs]

    @property
    def active(self) -> bool:
        """True inside the ``with`` block."""
        return self._wid is not None

    @property
    def stats(self) -> "Stats":
        """The window's Stats: live inside the block, final after it."""
        if self._wid is not None:
            return Stats(self._backend.window_snapshot(self._wid))
        if self._stats is None:
            raise RuntimeError("this Recorder has not been used yet")
        return self._stats

    def __repr__(self) -> str:
        state = "active" if self._wid is not None else (
            "unused" if self._stats is None else f"{self._stats.count} collections")
        return f"<{type(self).__name__} {state}>"


class Api:
    """The recording functions bound to one backend module (tests use one per
    backend; ``gcpause``'s own functions are the public, documented ones)."""

    def __init__(self, backend: "ModuleType", recorder: "type[Recorder] | None" = None) -> None:
        self.backend = backend
        self.Recorder: "type[Recorder]" = recorder or type(
            "Recorder", (Recorder,), {"_backend": backend})

    def start(self, ring_size: int = DEFAULT_RING_SIZE, sites: bool = False) -> None:
        self.backend.start(ring_size, sites)

    def stop(self) -> None:
        self.backend.stop()

    def is_recording(self) -> bool:
        return bool(self.backend.is_recording())

    def reset(self) -> None:
        self.backend.reset()

    def stats(self) -> "Stats":
        return Stats(self.backend.snapshot())

    def records(self) -> "list[Pause]":
        return [Pause._from_raw(r) for r in self.backend.records()]

    def total_pause_ns(self) -> int:
        return int(self.backend.total_pause_ns())


def _bind_default_backend() -> None:
    # gcpause/__init__.py has chosen the backend before this module is imported.
    from . import _backend  # noqa: PLC0415 - the package is initialised by now

    Recorder._backend = _backend


_bind_default_backend()
