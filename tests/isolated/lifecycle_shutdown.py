"""Interpreter exit with recording active: no crash, no garbage, final collection recorded.

usage: lifecycle_shutdown.py c|pure MODE

Modes: "start" (start() left on), "sites" (start(sites=True): the ring holds
code objects until the module is freed), "recorder" (a Recorder entered and
never exited, with sites), "thread" (a daemon thread collecting while the main
thread exits), "finalizers" (cyclic garbage with __del__ methods that call
gcpause during the final collection), "disabled" (gc.disable(): CPython runs
no callback-visible collection at exit).

A probe callback, appended after gcpause's hooks, runs in the last
callback-visible collection (after atexit, sys.is_finalizing() true) and
writes "FINAL {json}" with what gcpause reports at that moment; gcpause's
stop hook runs before it, so the final collection is already counted.  The
RESULT line is printed from atexit, before that collection.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading

from _common import api_for, report

tag, mode = sys.argv[1], sys.argv[2]
backend, api = api_for(tag)


def probe(phase: str, info: dict[str, int]) -> None:
    if phase != "stop" or not sys.is_finalizing():
        return
    try:
        s = api.stats()
        recs = api.records()
        last = recs[-1] if recs else None
        out = {"count": s.count, "uncollectable": s.uncollectable,
               "last_gen": None if last is None else last.generation,
               "info_gen": info.get("generation"),
               "anomalies": {k: v for k, v in s.anomalies.items() if v},
               "garbage": len(gc.garbage)}
        if mode == "recorder":
            out["rec_count"] = rec.stats.count  # noqa: F821 - set below in that mode
    except BaseException as exc:  # report, never raise from a GC callback
        out = {"error": repr(exc)}
    os.write(1, ("FINAL " + json.dumps(out, sort_keys=True) + "\n").encode())


class Finalized:
    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        # Runs inside a collection (also the final one); must not disturb the recorder.
        api.stats()
        api.total_pause_ns()
        api.is_recording()


def churn(stop: threading.Event) -> None:
    while not stop.is_set():
        for _ in range(50):
            a: list[object] = []
            a.append(a)
        gc.collect(0)


if mode in ("start", "thread", "finalizers", "disabled"):
    api.start()
elif mode == "sites":
    api.start(64, sites=True)
elif mode == "recorder":
    rec = api.Recorder(64, sites=True)
    rec.__enter__()
else:
    raise SystemExit(f"unknown mode {mode}")
gc.collect(0)
gc.callbacks.append(probe)

if mode == "thread":
    stop = threading.Event()
    t = threading.Thread(target=churn, args=(stop,), daemon=True)
    t.start()
if mode == "finalizers":
    for _ in range(100):
        Finalized()
if mode == "disabled":
    gc.disable()
garbage = [[] for _ in range(10)]
for g in garbage:
    g.append(g)
del garbage


def at_exit() -> None:
    report(impl=tag, mode=mode, recording=api.is_recording(), count=api.stats().count)


import atexit  # noqa: E402

atexit.register(at_exit)
