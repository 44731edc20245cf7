"""Helpers shared by the isolated scripts (imported as a sibling module)."""

from __future__ import annotations

import gc
import json
import os
import sys
import sysconfig

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def rss_bytes() -> int:
    """Resident set size from /proc/self/statm (Linux); -1 elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return -1


def measure(tracked: dict[str, object]) -> str:
    """Refcounts of ``tracked``, live GC-tracked objects and RSS, after full collections.

    Returned as a JSON string: a str is not GC-tracked, so keeping earlier
    measurements does not change the object count of later ones.
    """
    gc.collect()
    gc.collect()
    refs = {}
    for name in tracked:
        refs[name] = sys.getrefcount(tracked[name])
    return json.dumps({"refs": refs, "objects": len(gc.get_objects()), "rss": rss_bytes()})


def api_for(tag: str):  # type: ignore[no-untyped-def]
    """(backend module, Api) for "c" or "pure", as tests/conftest.py builds them."""
    import gcpause
    from gcpause._recording import Api

    if tag == "c":
        from gcpause import _core as backend
    else:
        from gcpause import _pure as backend
    api = Api(backend, gcpause.Recorder if backend is gcpause._backend else None)
    return backend, api


def report(**fields: object) -> None:
    """Print the one RESULT line; measure() strings are decoded back into objects."""
    out = {k: json.loads(v) if isinstance(v, str) and v.startswith("{") else v
           for k, v in fields.items()}
    sys.stdout.write("RESULT " + json.dumps(out, sort_keys=True) + "\n")
    sys.stdout.flush()
