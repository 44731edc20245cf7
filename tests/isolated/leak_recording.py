"""Leak check of the recording API: start/stop/reset/stats/records and every Recorder form.

usage: leak_recording.py c|pure ITERATIONS

Runs the workload ``ITERATIONS`` times as warm-up (tuple and list free lists
keep up to a few thousand objects alive, and pymalloc arenas settle), then
twice more as phases A and B, measuring after each: refcounts of the module's
objects, ``len(gc.get_objects())`` and RSS.  Phase B is compared with phase A,
not with the start.  Prints RESULT {"before_a", "after_a", "after_b", ...};
test_leaks.py asserts on the figures.
"""

from __future__ import annotations

import gc
import sys

from _common import FREE_THREADED, api_for, measure, report

import gcpause
from gcpause import _recording


def workload(backend, api, Recorder) -> None:  # type: ignore[no-untyped-def]
    # Global recording: start/stop/reset/stats/records/total_pause_ns.
    api.start()
    gc.collect(0)
    s = api.stats()
    s.percentile(50), s.generations[0].histogram, repr(s), s.anomalies, s.gc_share
    recs = api.records()
    [(p.generation, p.duration_ns, p.cpython_duration_ns, p.site, repr(p)) for p in recs]
    api.total_pause_ns()
    api.is_recording()
    api.reset()
    api.stats()
    api.stop()
    api.stats()
    api.records()
    # Sites: the ring holds code references.
    api.start(64, sites=True)
    gc.collect(0)
    gc.collect(1)
    [p.site for p in api.records()]
    api.stop()
    # Ring reallocation (stopped, new size), then records across it.
    api.start(8)
    gc.collect(0)
    api.stop()
    api.start(16)
    api.records()
    api.stop()
    # Recorders: plain, sized, sites, nested, live stats, exception exit, reuse.
    with Recorder() as r:
        gc.collect(0)
        r.stats.count
        with Recorder(16, sites=True) as r2:
            gc.collect(0)
            r2.stats.percentile(99)
        with Recorder(1) as r3:
            gc.collect(0)
            gc.collect(0)
    r.pauses, r.stats.overwritten, r2.pauses, r3.stats.overwritten, repr(r)
    with r:
        gc.collect(1)
    try:
        with Recorder(4):
            gc.collect(0)
            raise KeyError("leak check")
    except KeyError:
        pass
    # Recorder inside start()..stop() and the other way round.
    api.start()
    with Recorder():
        gc.collect(0)
    api.stop()
    with Recorder() as r:
        api.start()
        gc.collect(0)
    api.stop()
    # Error paths.
    for bad, exc in ((0, ValueError), ("x", TypeError), (True, TypeError),
                     (2**80, ValueError), (-1, ValueError)):
        try:
            api.start(bad)
        except exc:
            pass
        else:
            raise AssertionError(f"start({bad!r}) did not raise")
        try:
            Recorder(bad)
        except exc:
            pass
        else:
            raise AssertionError(f"Recorder({bad!r}) did not raise")
    api.start(8)
    try:
        api.start(16)
    except ValueError:
        pass
    api.stop()
    for wid in (10**9, -1):
        for fn in (backend.window_snapshot, backend.close_window):
            try:
                fn(wid)
            except ValueError:
                pass
    try:
        s.percentile(101)
    except ValueError:
        pass


def main() -> None:
    tag, n = sys.argv[1], int(sys.argv[2])
    backend, api = api_for(tag)
    Recorder = api.Recorder
    hooks = backend.hooks()
    tracked = {
        "hook_a": hooks[0],
        "hook_b": hooks[1],
        "backend": backend,
        "Pause": gcpause.Pause,
        "Stats": gcpause.Stats,
        "GenStats": gcpause.GenStats,
        "Recorder": Recorder,
        "RecorderBase": _recording.Recorder,
        "workload_code": workload.__code__,  # referenced by every site record
    }
    del hooks
    gc.disable()  # collections happen because the workload asks
    try:
        for _ in range(n):
            workload(backend, api, Recorder)
        before_a = measure(tracked)
        for _ in range(n):
            workload(backend, api, Recorder)
        after_a = measure(tracked)
        for _ in range(n):
            workload(backend, api, Recorder)
        after_b = measure(tracked)
    finally:
        gc.enable()
    assert not api.is_recording()
    report(impl=tag, iterations=n, before_a=before_a, after_a=after_a, after_b=after_b,
           free_threaded=FREE_THREADED, callbacks=len(gc.callbacks),
           python=sys.version.split()[0])


if __name__ == "__main__":
    main()
