"""os.fork() with recording active: the child records on its own, from empty windows.

usage: lifecycle_fork.py c|pure

Parent: start(), an open Recorder, two collections; fork.  Child: reports
what it inherited (is_recording, counts after the at-fork reset), collects
three times and reports again, through a pipe.  Parent: checks its own
figures did not move with the child's collections.  Automatic collections are
off (gc.disable()) so every count is exact.
"""

from __future__ import annotations

import gc
import json
import os
import threading

from _common import api_for, report
import sys


def snapshot(api, rec) -> dict[str, object]:  # type: ignore[no-untyped-def]
    s = api.stats()
    return {"recording": api.is_recording(), "count": s.count,
            "gen0": s.generations[0].count, "records": len(api.records()),
            "rec_count": rec.stats.count, "rec_live": rec.active,
            "tids": sorted({p.thread_id for p in api.records()})}


def main() -> None:
    tag = sys.argv[1]
    backend, api = api_for(tag)
    gc.disable()
    api.start()
    rec = api.Recorder()
    rec.__enter__()
    gc.collect(0)
    gc.collect(0)
    parent_before = snapshot(api, rec)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(r)
            inherited = snapshot(api, rec)
            for _ in range(3):
                gc.collect(0)
            after = snapshot(api, rec)
            with api.Recorder() as own:
                gc.collect(1)
            rec.__exit__(None, None, None)
            api.stop()
            out = {"inherited": inherited, "after": after, "own": own.stats.count,
                   "own_gen1": own.stats.generations[1].count,
                   "rec_final": rec.stats.count, "ident": threading.get_ident(),
                   "callbacks_after_stop": len(gc.callbacks)}
            os.write(w, json.dumps(out).encode())
            os.close(w)
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    parent_after = snapshot(api, rec)
    gc.collect(0)
    parent_more = snapshot(api, rec)
    rec.__exit__(None, None, None)
    api.stop()
    gc.enable()
    report(impl=tag, status=status, child=json.loads(data.decode() or "null"),
           parent_before=parent_before, parent_after=parent_after, parent_more=parent_more,
           ident=threading.get_ident(), callbacks_after_stop=len(gc.callbacks))


if __name__ == "__main__":
    main()
