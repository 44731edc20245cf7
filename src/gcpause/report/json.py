"""The JSON report (``--json FILE``): summary plus every record, versioned.

The document follows ``gcpause/report/schema.json`` (JSON Schema 2020-12),
whose ``schema_version`` is ``SCHEMA_VERSION``: bump it on any change a
reader could notice (a key removed, renamed or retyped); adding an optional
key is not a change.  Keys are sorted so equal reports are equal files.
"""

from __future__ import annotations

import json
import os

from . import Summary, environment

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SCHEMA_VERSION = 1
SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema.json")


def load_schema() -> dict[str, Any]:
    """The shipped JSON Schema as a dict."""
    with open(SCHEMA_FILE, encoding="utf-8") as f:
        schema: dict[str, Any] = json.load(f)
    return schema


def build(summary: Summary) -> dict[str, Any]:
    """The report document as plain JSON-ready Python objects."""
    st = summary.stats
    meta = dict(summary.meta)
    env = meta.pop("environment", None) or environment()
    hist = [{"low_ns": low, "high_ns": high, "counts": counts}
            for low, high, counts in summary.histogram()]
    records = []
    for p in summary.records:
        records.append({
            "generation": p.generation,
            "start_ns": p.start_ns,
            "offset_ns": summary.offset_ns(p),
            "duration_ns": p.duration_ns,
            "collected": p.collected,
            "uncollectable": p.uncollectable,
            "thread_id": p.thread_id,
            "cpython_duration_ns": getattr(p, "cpython_duration_ns", None),
            "site": summary.site_of(p),
        })
    threads = [{"thread_id": t, "name": summary.thread_label(t)} for t in summary.threads]
    return {
        "schema_version": SCHEMA_VERSION,
        "environment": env,
        "run": meta,
        "summary": {
            "start_ns": st.start_ns,
            "wall_ns": st.wall_ns,
            "gc_share": st.gc_share,
            "overall": summary.overall,
            "generations": summary.generations,
            "histogram": hist,
            "overwritten": st.overwritten,
            "repairs": st.repairs,
            "anomalies": st.anomalies,
        },
        "sites_enabled": summary.sites_enabled,
        "top_sites": summary.top_sites() if summary.sites_enabled else [],
        "threads": threads,
        "records": records,
    }


def dumps(summary: Summary) -> str:
    """``build(summary)`` serialized compactly with sorted keys, newline at the end.

    Compact because a run can hold 10^5 records; pipe through ``jq`` or
    ``python -m json.tool`` to read it.
    """
    return json.dumps(build(summary), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False) + "\n"


def write(summary: Summary, path: str) -> None:
    """Write ``dumps(summary)`` to ``path`` (UTF-8)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(dumps(summary))
