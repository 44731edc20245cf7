"""Unloading and re-importing gcpause never leaves one of its callables in gc.callbacks.

usage: lifecycle_reimport.py

Scenarios, each ending with "no gcpause callable in gc.callbacks":
  reload    importlib.reload(gcpause) while recording; the new package's stop()
            stops the same backend.
  package   gcpause (the package, not _core) dropped from sys.modules while a Recorder
            is open and re-imported; close the Recorder, start/stop with the new package.
  full      every gcpause module dropped after stop(); a fresh import gives a new _core
            module object (multi-phase init) with new hooks; both stop cleanly.
  pure      the same for gcpause._pure.
A callable is "gcpause's" if it is one of the hooks() of any module instance seen.
"""

from __future__ import annotations

import gc
import importlib
import sys

from _common import report


def drop(prefix: str) -> None:
    for name in [m for m in sys.modules if m == prefix or m.startswith(prefix + ".")]:
        del sys.modules[name]


def main() -> None:
    seen_hooks: list[object] = []
    out: dict[str, object] = {}

    def ours_in_list() -> int:
        return sum(1 for cb in gc.callbacks if any(cb is h for h in seen_hooks))

    gc.disable()
    import gcpause
    from gcpause import _pure

    seen_hooks.extend(gcpause._backend.hooks())
    seen_hooks.extend(_pure.hooks())
    # reload
    gcpause.start()
    gc.collect(0)
    g2 = importlib.reload(gcpause)
    out["reload_same_backend"] = g2._backend is gcpause._backend
    out["reload_still_recording"] = g2.is_recording()
    g2.stop()
    out["reload_left"] = ours_in_list()
    # package
    rec = gcpause.Recorder()
    rec.__enter__()
    drop("gcpause")
    sys.modules["gcpause._core"] = gcpause._backend  # keep the extension, drop the rest
    import gcpause as g3

    seen_hooks.extend(g3._backend.hooks())
    g3.start()
    gc.collect(0)
    rec.__exit__(None, None, None)
    out["package_rec_count"] = rec.stats.count
    g3.stop()
    out["package_left"] = ours_in_list()
    # full
    old_core = g3._backend
    drop("gcpause")
    import gcpause as g4

    seen_hooks.extend(g4._backend.hooks())
    out["full_new_module"] = g4._backend is not old_core
    out["full_new_hooks"] = all(a is not b for a in g4._backend.hooks()
                                for b in old_core.hooks())
    g4.start()
    old_core.start(16)
    gc.collect(0)
    out["full_both_installed"] = ours_in_list()
    out["full_counts"] = [g4.stats().count, old_core.snapshot()[6][3][0]]
    g4.stop()
    old_core.stop()
    out["full_left"] = ours_in_list()
    # pure
    from gcpause import _pure as old_pure

    old_pure.start(16)
    drop("gcpause")
    import gcpause as g5
    from gcpause import _pure as new_pure

    seen_hooks.extend(new_pure.hooks())
    out["pure_new_module"] = new_pure is not old_pure
    new_pure.start(16)
    gc.collect(0)
    out["pure_counts"] = [new_pure.snapshot()[6][3][0], old_pure.snapshot()[6][3][0]]
    new_pure.stop()
    old_pure.stop()
    out["pure_left"] = ours_in_list()
    del g5
    gc.enable()
    out["callbacks_at_end"] = len(gc.callbacks)
    report(**out)


if __name__ == "__main__":
    main()
