"""The Chrome Trace Event file: valid JSON, one complete event per collection."""

from __future__ import annotations

import gc
import json
import os
import threading
from typing import Any

from gcpause.report import Summary
from gcpause.report import trace as trace_report


def _record_two_threads(impl) -> tuple[Any, list[Any]]:
    was = gc.isenabled()
    gc.disable()
    try:
        with impl.Recorder() as rec:
            gc.collect(0)
            worker = threading.Thread(target=lambda: (gc.collect(1), gc.collect(0)),
                                      name="worker-1")
            worker.start()
            worker.join()
            gc.collect(2)
    finally:
        if was:
            gc.enable()
    return rec.stats, rec.pauses


def test_trace_has_one_complete_event_per_collection(impl, tmp_path) -> None:
    stats, pauses = _record_two_threads(impl)
    path = tmp_path / "t.json"
    trace_report.write(Summary(stats, pauses, meta={"command": "python x.py"}), str(path))
    trace = json.loads(path.read_text())
    assert trace["displayTimeUnit"] == "ms"
    events = trace["traceEvents"]
    complete = [e for e in events if e["ph"] == "X"]
    assert len(complete) == len(pauses) == stats.count == 4
    for e, p in zip(complete, pauses):
        assert set(e) >= {"name", "cat", "ph", "ts", "dur", "pid", "tid", "args"}
        assert e["pid"] == os.getpid()
        assert e["ts"] == (p.start_ns - stats.start_ns) / 1000 and e["ts"] >= 0
        assert e["dur"] == p.duration_ns / 1000 and e["dur"] >= 0
        assert e["args"] == {"generation": p.generation, "collected": p.collected,
                             "uncollectable": p.uncollectable}
        assert e["name"] == f"gc gen{p.generation}"
        assert isinstance(e["tid"], int) and 0 <= e["tid"] < 2**31
    assert [e["args"]["generation"] for e in complete] == [0, 1, 0, 2]


def test_trace_puts_each_collection_on_its_thread(impl) -> None:
    stats, pauses = _record_two_threads(impl)
    trace = trace_report.build(Summary(stats, pauses))
    meta = {e["tid"]: e["args"]["name"] for e in trace["traceEvents"]
            if e["ph"] == "M" and e["name"] == "thread_name"}
    complete = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    main_tid = complete[0]["tid"]
    worker_tid = complete[1]["tid"]
    assert main_tid != worker_tid
    assert complete[2]["tid"] == worker_tid and complete[3]["tid"] == main_tid
    assert meta[main_tid] == "MainThread"
    # the worker has exited: its name is unknown, but it still gets its own track
    assert worker_tid in meta
    assert main_tid == threading.main_thread().native_id
    procs = [e for e in trace["traceEvents"] if e["ph"] == "M" and e["name"] == "process_name"]
    assert len(procs) == 1


def test_trace_names_live_threads(impl) -> None:
    stats, pauses = _record_two_threads(impl)
    worker_ident = pauses[1].thread_id
    trace = trace_report.build(Summary(stats, pauses, names={worker_ident: "worker-1"}))
    names = [e["args"]["name"] for e in trace["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name"]
    assert "worker-1" in names


def test_trace_of_an_empty_recording_is_valid(impl) -> None:
    with impl.Recorder() as rec:
        pass
    trace = trace_report.build(Summary(rec.stats, rec.pauses))
    assert [e["ph"] for e in trace["traceEvents"]] == ["M"]
    json.dumps(trace)
