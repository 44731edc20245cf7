"""Chrome Trace Event JSON (``--trace FILE``) for Perfetto and chrome://tracing.

One complete ("X") event per recorded collection on the process and
thread that ran it, ``ts``/``dur`` in microseconds since the start of
recording, ``args`` with generation, collected, uncollectable (and site
when captured); plus ``process_name`` / ``thread_name`` metadata events.
Thread ids are OS thread ids where gcpause knows them (threads alive at
report time); other threads get ids above Linux's ``pid_max`` limit
(2**22), so they never collide with a real one.
"""

from __future__ import annotations

import json
import os

from . import Summary, native_ids

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_UNKNOWN_TID_BASE = 1 << 22


def build(summary: Summary, *, pid: int | None = None) -> dict[str, Any]:
    """The trace as a dict: ``{"traceEvents": [...], "displayTimeUnit": "ms", ...}``."""
    pid = os.getpid() if pid is None else pid
    natives = native_ids()
    tids: dict[int, int] = {}
    for ident in summary.threads:
        tid = natives.get(ident)
        if tid is None or tid in tids.values():
            tid = _UNKNOWN_TID_BASE + len(tids)
        tids[ident] = tid
    command = summary.meta.get("command") or "python"
    events: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": pid, "tid": 0,
         "args": {"name": f"{command} (gcpause)"}},
    ]
    for ident, tid in tids.items():
        events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
                       "args": {"name": summary.thread_label(ident)}})
    for p in summary.records:
        args: dict[str, Any] = {"generation": p.generation, "collected": p.collected,
                                "uncollectable": p.uncollectable}
        site = summary.site_of(p)
        if site is not None:
            args["site"] = site
        events.append({
            "name": f"gc gen{p.generation}" if p.generation >= 0 else "gc",
            "cat": "gc",
            "ph": "X",
            "ts": summary.offset_ns(p) / 1000,
            "dur": p.duration_ns / 1000,
            "pid": pid,
            "tid": tids[p.thread_id],
            "args": args,
        })
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {"producer": "gcpause", "start_ns": summary.stats.start_ns,
                      "overwritten": summary.stats.overwritten},
    }


def write(summary: Summary, path: str) -> None:
    """Write the trace to ``path``."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(build(summary), f, separators=(",", ":"))
        f.write("\n")
