"""Reports over one recording: text, JSON, Chrome trace and HTML.

Every renderer starts from a ``Summary``, built once from a ``Stats``
snapshot and the records of the same window, so the four outputs always
agree with each other and with ``gcpause.stats()``.  Aggregates (counts,
totals, percentiles, histogram) come from ``Stats`` and are complete even
when the ring overwrote old records; per-pause views (longest pauses,
timeline, trigger sites, trace) come from the records that are left.
"""

from __future__ import annotations

import os
import platform
import sys
import threading

from gcpause._recording import fmt_ns as fmt_ns  # re-exported for the report modules

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Sequence

    from .._recording import GenStats, Pause, Stats

PERCENTILES = (50, 90, 99)
#: Histogram edges in ns: 1-2-5 steps from 1 µs to 100 s; pauses under 1 µs
#: fall in the first bucket.
EDGES_NS: tuple[int, ...] = tuple(
    m * 10 ** e for e in range(3, 12) for m in (1, 2, 5)) + (10 ** 12,)


def fmt_edge(ns: int) -> str:
    """A histogram edge: ``1 µs``, ``20 µs``, ``500 ms``, ``2 s``."""
    for unit, scale in (("s", 10 ** 9), ("ms", 10 ** 6), ("µs", 10 ** 3)):
        if ns >= scale:
            return f"{ns // scale} {unit}" if ns % scale == 0 else f"{ns / scale:g} {unit}"
    return f"{ns} ns"


def fmt_share(share: float) -> str:
    """A fraction as a percentage with two significant decimals: ``3.71 %``."""
    pct = share * 100
    return f"{pct:.2f} %" if pct >= 0.01 or pct == 0 else f"{pct:.2g} %"


def bucket_of(ns: int) -> int:
    """Index into ``EDGES_NS`` of the display bucket holding ``ns``: edges[i] <= ns < edges[i+1].

    Pauses below the first edge go to bucket 0, pauses beyond the last to the last one.
    """
    lo, hi = 0, len(EDGES_NS) - 2
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if EDGES_NS[mid] <= ns:
            lo = mid
        else:
            hi = mid - 1
    return lo


def display_histogram(gen: GenStats) -> dict[int, int]:
    """``{display bucket: count}`` from a GenStats' fine histogram.

    Each fine bucket (at most 1/64 of its value wide) is placed by its
    midpoint, so the counts add up to ``gen.count`` exactly and each pause
    lands in its own display bucket unless it is within 0.8 % of an edge.
    """
    out: dict[int, int] = {}
    for low, high, n in gen.histogram:
        b = bucket_of((low + high + 1) // 2)
        out[b] = out.get(b, 0) + n
    return out


def gen_row(gen: GenStats) -> dict[str, Any]:
    """The summary figures of one generation (or of all) as a plain dict."""
    row: dict[str, Any] = {
        "count": gen.count,
        "total_ns": gen.total_ns,
        "mean_ns": round(gen.mean_ns),
        "max_ns": gen.max_ns,
        "collected": gen.collected,
        "uncollectable": gen.uncollectable,
    }
    for q in PERCENTILES:
        row[f"p{q}_ns"] = gen.percentile(q)
    return row


def thread_names() -> dict[int, str]:
    """``{threading.get_ident(): name}`` for the threads alive now."""
    return {t.ident: t.name for t in threading.enumerate() if t.ident is not None}


def native_ids() -> dict[int, int]:
    """``{threading.get_ident(): native thread id}`` for the threads alive now."""
    out: dict[int, int] = {}
    for t in threading.enumerate():
        native = getattr(t, "native_id", None)
        if t.ident is not None and native is not None:
            out[t.ident] = native
    return out


class Summary:
    """Everything a report shows, computed once from one recording window.

    ``stats`` and ``records`` must come from the same window (for example
    ``gcpause.stats()`` and ``gcpause.records()`` after ``gcpause.stop()``,
    or a Recorder's ``stats`` and ``pauses``).  ``meta`` is free-form
    context (command, exit code, ...) copied into the JSON and HTML.
    """

    def __init__(self, stats: Stats, records: Sequence[Pause], *, top: int = 10,
                 sites: bool = False, meta: dict[str, Any] | None = None,
                 names: dict[int, str] | None = None) -> None:
        self.stats = stats
        self.records = list(records)
        self.top = top
        self.sites_enabled = sites
        self.meta: dict[str, Any] = dict(meta or {})
        self.names: dict[int, str] = thread_names() if names is None else dict(names)
        self.main_ident = threading.main_thread().ident

    # -- aggregates (from Stats: complete) --------------------------------

    @property
    def overall(self) -> dict[str, Any]:
        return gen_row(self.stats.overall)

    @property
    def generations(self) -> list[dict[str, Any]]:
        return [dict(gen_row(g), generation=i) for i, g in enumerate(self.stats.generations)]

    def histogram(self) -> list[tuple[int, int, list[int]]]:
        """Rows ``(low_ns, high_ns, [gen0, gen1, gen2])`` from the first to the last
        non-empty display bucket (empty ones in between included)."""
        per_gen = [display_histogram(g) for g in self.stats.generations]
        used = sorted(set().union(*per_gen))
        if not used:
            return []
        return [(EDGES_NS[b], EDGES_NS[b + 1], [h.get(b, 0) for h in per_gen])
                for b in range(used[0], used[-1] + 1)]

    @property
    def anomalies(self) -> dict[str, int]:
        """Non-zero anomaly counters, plus ``callback_repairs`` when non-zero."""
        out = {k: v for k, v in self.stats.anomalies.items() if v}
        if self.stats.repairs:
            out["callback_repairs"] = self.stats.repairs
        return out

    # -- per-pause views (from records: the ring's newest) ----------------

    def offset_ns(self, pause: Pause) -> int:
        """Time from the start of recording to the start of ``pause``."""
        return int(pause.start_ns - self.stats.start_ns)

    def longest(self, n: int | None = None) -> list[Pause]:
        """The ``n`` (default ``top``) longest pauses, longest first; ties by start."""
        n = self.top if n is None else n
        return sorted(self.records, key=lambda p: (-p.duration_ns, p.start_ns))[:max(n, 0)]

    def site_of(self, pause: Pause) -> str | None:
        site = getattr(pause, "site", None)
        return site if isinstance(site, str) else None

    def top_sites(self, n: int | None = None) -> list[dict[str, Any]]:
        """Trigger sites by total pause: ``{site, count, total_ns, max_ns, generations}``."""
        n = self.top if n is None else n
        agg: dict[str, dict[str, Any]] = {}
        for p in self.records:
            site = self.site_of(p)
            if site is None:
                continue
            a = agg.get(site)
            if a is None:
                a = agg[site] = {"site": site, "count": 0, "total_ns": 0, "max_ns": 0,
                                 "generations": [0, 0, 0]}
            a["count"] += 1
            a["total_ns"] += p.duration_ns
            a["max_ns"] = max(a["max_ns"], p.duration_ns)
            if 0 <= p.generation <= 2:
                a["generations"][p.generation] += 1
        ranked = sorted(agg.values(), key=lambda a: (-a["total_ns"], a["site"]))
        return ranked[:max(n, 0)]

    def short_site(self, site: str) -> str:
        """``site`` with the current directory's prefix removed, for display."""
        cwd = self.meta.get("cwd") or os.getcwd()
        prefix = cwd.rstrip(os.sep) + os.sep
        return site[len(prefix):] if site.startswith(prefix) else site

    @property
    def sites_captured(self) -> int:
        return sum(1 for p in self.records if self.site_of(p) is not None)

    def thread_label(self, ident: int) -> str:
        name = self.names.get(ident)
        if name is not None:
            return name
        if ident == self.main_ident:
            return "MainThread"
        return f"thread {ident:#x}"

    @property
    def threads(self) -> list[int]:
        """Idents of the threads that ran a recorded collection, main thread first."""
        seen = dict.fromkeys(p.thread_id for p in self.records)
        return sorted(seen, key=lambda t: (t != self.main_ident, t))


def environment() -> dict[str, Any]:
    """Facts about this interpreter and gcpause for a report's header."""
    import gc
    import sysconfig

    import gcpause

    env: dict[str, Any] = {
        "gcpause_version": gcpause.__version__,
        "implementation": gcpause.IMPLEMENTATION,
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "gc_threshold": list(gc.get_threshold()),
        "pid": os.getpid(),
        "platform": sys.platform,
    }
    if gcpause.IMPORT_ERROR is not None:
        env["import_error"] = str(gcpause.IMPORT_ERROR)
    return env
