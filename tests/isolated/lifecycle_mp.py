"""multiprocessing children (fork and spawn) record on their own.

usage: lifecycle_mp.py c|pure fork|spawn

The parent records (start() + gc.disable()); a child process started with the
given method reports what it inherited, then records three collections of its
own through start() and a Recorder.  The parent's figures must not move.
"""

from __future__ import annotations

import gc
import multiprocessing
import sys

from _common import api_for, report


def child(tag: str, q: "multiprocessing.Queue[dict[str, object]]") -> None:
    backend, api = api_for(tag)
    gc.disable()
    out: dict[str, object] = {"inherited_recording": api.is_recording(),
                              "inherited_count": api.stats().count,
                              "impl": backend.__name__}
    api.start()
    api.reset()
    with api.Recorder() as r:
        for _ in range(3):
            gc.collect(0)
    s = api.stats()
    out.update(count=s.count, gen0=s.generations[0].count, rec=r.stats.count,
               records=len(api.records()))
    api.stop()
    out["callbacks_after_stop"] = len(gc.callbacks)
    q.put(out)


def main() -> None:
    tag, method = sys.argv[1], sys.argv[2]
    backend, api = api_for(tag)
    ctx = multiprocessing.get_context(method)
    gc.disable()
    api.start()
    gc.collect(0)
    before = api.stats().count
    q = ctx.Queue()
    p = ctx.Process(target=child, args=(tag, q))
    p.start()
    res = q.get(timeout=60)
    p.join(60)
    after = api.stats().count
    api.stop()
    gc.enable()
    report(impl=tag, method=method, exitcode=p.exitcode, child=res, parent_before=before,
           parent_after=after, parent_impl=backend.__name__)


if __name__ == "__main__":
    main()
