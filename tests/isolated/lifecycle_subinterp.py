"""Sub-interpreters each keep their own recorder state (3.10+); 3.9 refuses with RuntimeError.

usage: lifecycle_subinterp.py c|pure OUTDIR

Interpreter API per version: _xxsubinterpreters (3.9-3.12; create() gives an
own-GIL interpreter on 3.12), _interpreters (3.13, create("isolated")),
concurrent.interpreters (3.14+).  The main interpreter records with automatic
collection off; each sub-interpreter imports gcpause, records N collections of
its own and writes what it saw to OUTDIR/<name>.json.  Checked here and in
test_lifecycle.py: the counts are exact on both sides, no hook crosses
interpreters, a sub-interpreter destroyed while recording leaves the main one
working.  On 3.12+ two sub-interpreters with their own GILs record at the
same time from two threads.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading

# CPython 3.12's debug allocator hooks (PYTHONMALLOC=debug, used by scripts/sanitize.sh,
# and -X dev) corrupt memory when two own-GIL sub-interpreters allocate at once:
# reproduced without gcpause (two threads each creating one and running a loop:
# 1 segfault in 30 runs with PYTHONMALLOC=debug, 9 in 100 with -X dev, 0 in 100
# without either, on 3.12.1).  The parallel part is skipped there; everything else runs.
PARALLEL_UNSAFE = sys.version_info[:2] == (3, 12) and (
    os.environ.get("PYTHONMALLOC") == "debug" or sys.flags.dev_mode)

from _common import api_for, report

SUB_CODE = r'''
import gc, json, sys
res = {{}}
try:
    from _common import api_for
    backend, api = api_for({tag!r})
    res["backend"] = backend.__name__
    res["callbacks_before"] = len(gc.callbacks)
    gc.disable()
    try:
        api.start()
    except RuntimeError as exc:
        res["start_error"] = str(exc)
        try:
            with api.Recorder():
                pass
        except RuntimeError as exc2:
            res["recorder_error"] = str(exc2)
        res["callbacks_after"] = len(gc.callbacks)
    else:
        hooks = backend.hooks()
        res["ours_in_list"] = sum(1 for cb in gc.callbacks if cb in hooks)
        with api.Recorder() as r:
            for _ in range({n}):
                gc.collect(0)
        gc.collect(1)
        s = api.stats()
        res.update(count=s.count, gen0=s.generations[0].count, gen1=s.generations[1].count,
                   rec=r.stats.count, records=len(api.records()),
                   anomalies=sum(s.anomalies.values()))
        if not {keep}:
            api.stop()
            res["callbacks_after"] = len(gc.callbacks)
    gc.enable()
except BaseException as exc:
    import traceback
    res["error"] = traceback.format_exc()
with open({out!r}, "w") as f:
    json.dump(res, f)
'''


class Interp:
    """One sub-interpreter over whichever private/public API this version has."""

    def __init__(self) -> None:
        if sys.version_info >= (3, 14):
            from concurrent import interpreters

            self._i = interpreters.create()
            self.run = self._i.exec
            self.close = self._i.close
        elif sys.version_info >= (3, 13):
            import _interpreters

            self._id = _interpreters.create("isolated")

            def run(code: str) -> None:
                err = _interpreters.exec(self._id, code)
                if err is not None:
                    raise RuntimeError(f"sub-interpreter failed: {err}")

            self.run = run
            self.close = lambda: _interpreters.destroy(self._id)
        else:
            import _xxsubinterpreters

            self._id = _xxsubinterpreters.create()
            self.run = lambda code: _xxsubinterpreters.run_string(self._id, code)
            self.close = lambda: _xxsubinterpreters.destroy(self._id)


def sub(tag: str, outdir: str, name: str, n: int, keep: bool = False) -> dict[str, object]:
    out = os.path.join(outdir, name + ".json")
    it = Interp()
    # The sub-interpreter's sys.path comes from the environment (PYTHONPATH), not from ours:
    # put this directory first so that it finds _common.
    it.run(f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})")
    it.run(SUB_CODE.format(tag=tag, n=n, keep=keep, out=out))
    it.close()
    with open(out) as f:
        res: dict[str, object] = json.load(f)
    return res


def main() -> None:
    tag, outdir = sys.argv[1], sys.argv[2]
    backend, api = api_for(tag)
    gc.disable()
    api.start()
    gc.collect(0)
    main_hooks = backend.hooks()
    cbs_before = list(gc.callbacks)
    count_before = api.stats().count
    results: dict[str, object] = {}
    results["a"] = sub(tag, outdir, "a", 5)
    results["keep"] = sub(tag, outdir, "keep", 3, keep=True)  # destroyed while recording
    if sys.version_info >= (3, 12) and not PARALLEL_UNSAFE:
        # Own GILs: these two really run at the same time.
        threads = [threading.Thread(target=lambda k=k: results.__setitem__(
            k, sub(tag, outdir, k, 300))) for k in ("t1", "t2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    count_after_subs = api.stats().count
    cbs_after = list(gc.callbacks)
    gc.collect(0)
    count_final = api.stats().count
    api.stop()
    gc.enable()
    report(impl=tag, version=list(sys.version_info[:2]), subs=results,
           count_before=count_before, count_after_subs=count_after_subs,
           count_final=count_final, callbacks_unchanged=cbs_before == cbs_after,
           main_hooks_in_list=sum(1 for cb in cbs_before if cb in main_hooks),
           callbacks_after_stop=len(gc.callbacks))


if __name__ == "__main__":
    main()
