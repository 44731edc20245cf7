"""Leak check of the control API: every scope as context manager and decorator (sync and
async), collect(), freeze() and flavor(), with recording on and off.

usage: leak_control.py ITERATIONS

Same protocol as leak_recording.py: warm-up, then phases A and B measured
after each.  Prints RESULT {...}; test_leaks.py asserts on the figures.
"""

from __future__ import annotations

import asyncio
import gc
import sys

from _common import FREE_THREADED, measure, report

import gcpause
from gcpause import control


@gcpause.paused(collect=0)
def decorated_paused() -> int:
    return len([[] for _ in range(3)])


@gcpause.young_only()
def decorated_young() -> None:
    gc.collect(0)


@gcpause.budget(1000)
def decorated_budget() -> None:
    pass


@gcpause.thresholds(500, 5)
def decorated_thresholds() -> None:
    pass


@gcpause.paused()
async def decorated_async() -> None:
    pass


async def async_scopes() -> None:
    async with gcpause.young_only():
        async with gcpause.budget(50, collect=0):
            await decorated_async()


def workload(loop: asyncio.AbstractEventLoop) -> None:
    with gcpause.paused():
        with gcpause.young_only():
            with gcpause.budget(10_000) as b:
                with gcpause.thresholds(100, 2, 3):
                    gcpause.collect(0)
            b.exceeded, b.collections, repr(b)
    with gcpause.budget(1, collect=1) as b:
        x: list[object] = [[] for _ in range(5)]
        del x
    b.exceeded
    try:
        with gcpause.paused(collect=0):
            raise KeyError("leak check")
    except KeyError:
        pass
    s = gcpause.thresholds(300)
    with s:
        with s:  # re-entrant in one thread
            pass
    decorated_paused()
    decorated_young()
    decorated_budget()
    decorated_thresholds()
    loop.run_until_complete(async_scopes())
    p = gcpause.collect(1)
    p.duration_ns, repr(p)
    gcpause.flavor()
    # Recording on while scopes run.
    gcpause.start()
    with gcpause.paused(collect=0):
        gcpause.collect(0)
    gcpause.stop()
    # Bad input.
    for bad in (-1, 3, "x", None, 1.5, True):
        for factory in (gcpause.paused, gcpause.young_only):
            if bad is None:
                continue
            try:
                factory(bad)
            except (TypeError, ValueError):
                pass
        for fn in (gcpause.budget, gcpause.thresholds, gcpause.collect):
            try:
                fn(bad)
            except (TypeError, ValueError):
                pass


def main() -> None:
    n = int(sys.argv[1])
    loop = asyncio.new_event_loop()
    tracked = {
        "Paused": control.Paused,
        "YoungOnly": control.YoungOnly,
        "Budget": control.Budget,
        "Thresholds": control.Thresholds,
        "Request": control._Request,
        "budget_callback": control._budget_callback,
        "Pause": gcpause.Pause,
        "Recorder": gcpause.Recorder,
    }
    state = (gc.isenabled(), gc.get_threshold(), list(gc.callbacks), gc.get_freeze_count())
    for _ in range(n):
        workload(loop)
    before_a = measure(tracked)
    for _ in range(n):
        workload(loop)
    after_a = measure(tracked)
    for _ in range(n):
        workload(loop)
    after_b = measure(tracked)
    # freeze(): a few times only (each full collection scans the whole heap), and only
    # when the permanent generation starts empty, so gc.unfreeze() restores it exactly
    # (3.12 starts with a few hundred frozen objects of its own).
    freeze_checked = gc.get_freeze_count() == 0
    for _ in range(20 if freeze_checked else 0):
        r = gcpause.freeze()
        repr(r)
        gc.unfreeze()
    loop.close()
    after = (gc.isenabled(), gc.get_threshold(), list(gc.callbacks), gc.get_freeze_count())
    assert after == state, (state, after)
    report(freeze_checked=freeze_checked, iterations=n, before_a=before_a, after_a=after_a, after_b=after_b,
           free_threaded=FREE_THREADED, python=sys.version.split()[0])


if __name__ == "__main__":
    main()
