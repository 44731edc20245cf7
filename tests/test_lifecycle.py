"""Lifecycle: fork, multiprocessing (fork and spawn), sub-interpreters, interpreter exit,
unloading and re-importing.  Each scenario is a tests/isolated/ script run in a fresh
interpreter with ``-X dev -W error``: a crash, a warning or anything on stderr fails it.
"""

from __future__ import annotations

import _thread
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import gcpause
from gcpause import IMPLEMENTATION, _pure
from gcpause._recording import Api

from .isolated._runner import FREE_THREADED, run_script

TAGS = [
    pytest.param("c", marks=[pytest.mark.c_extension, pytest.mark.skipif(
        IMPLEMENTATION != "c", reason="gcpause._core unavailable")]),
    "pure",
]


# -- fork ---------------------------------------------------------------------------------

@pytest.mark.parametrize("tag", TAGS)
def test_forked_child_records_its_own_collections_from_empty_windows(tag: str) -> None:
    res = run_script("lifecycle_fork.py", tag, dev=True)
    child = res["child"]
    assert res["status"] == 0
    # The child inherits "recording" but none of the parent's figures ...
    assert child["inherited"] == {"recording": True, "count": 0, "gen0": 0, "records": 0,
                                  "rec_count": 0, "rec_live": True, "tids": []}
    # ... and then counts exactly its own collections, from its own thread.
    assert child["after"]["count"] == child["after"]["gen0"] == child["after"]["records"] == 3
    assert child["after"]["rec_count"] == 3
    assert child["after"]["tids"] == [child["ident"]]
    assert child["own"] == child["own_gen1"] == 1
    assert child["rec_final"] == 4
    assert child["callbacks_after_stop"] == 0
    # The parent's figures did not move with the child's collections.
    assert res["parent_before"] == res["parent_after"]
    assert res["parent_before"]["count"] == 2
    assert res["parent_more"]["count"] == res["parent_more"]["rec_count"] == 3
    assert res["callbacks_after_stop"] == 0


@pytest.mark.parametrize("method", ["fork", "spawn"])
@pytest.mark.parametrize("tag", TAGS)
def test_multiprocessing_child_records_on_its_own(tag: str, method: str) -> None:
    res = run_script("lifecycle_mp.py", tag, method, dev=True)
    child = res["child"]
    assert res["exitcode"] == 0
    assert child["impl"] == res["parent_impl"]
    # fork: recording is inherited, with empty windows; spawn: a fresh import.
    assert child["inherited_recording"] is (method == "fork")
    assert child["inherited_count"] == 0
    assert child["count"] == child["gen0"] == child["rec"] == child["records"] == 3
    assert child["callbacks_after_stop"] == 0
    assert res["parent_before"] == res["parent_after"] == 1


# -- sub-interpreters ---------------------------------------------------------------------

@pytest.mark.parametrize("tag", TAGS)
def test_subinterpreters_keep_their_own_state(tag: str, tmp_path: Path) -> None:
    # Not -X dev on 3.12: its debug allocator hooks crash CPython 3.12.1 itself when two
    # own-GIL sub-interpreters allocate at once (9 of 100 runs of a script without gcpause;
    # 0 of 100 without -X dev), and the parallel part is the point of this test there.
    dev = sys.version_info[:2] != (3, 12)
    res = run_script("lifecycle_subinterp.py", tag, str(tmp_path), dev=dev, timeout=180)
    subs = res["subs"]
    for name, sub in subs.items():
        assert "error" not in sub, f"{name}: {sub['error']}"
        assert sub["backend"] == ("gcpause._core" if tag == "c" else "gcpause._pure")
    if sys.version_info < (3, 10):
        # 3.9: gc is single-phase, a sub-interpreter's gc.callbacks is the main one's
        # list; gcpause refuses with RuntimeError and touches nothing.
        for sub in subs.values():
            assert "sub-interpreter" in sub["start_error"]
            assert "sub-interpreter" in sub["recorder_error"]
            assert sub["callbacks_after"] == sub["callbacks_before"]
    else:
        expected = {"a": 5, "keep": 3}
        if sys.version_info >= (3, 12) and not (
                sys.version_info[:2] == (3, 12) and os.environ.get("PYTHONMALLOC") == "debug"):
            expected.update(t1=300, t2=300)  # own GILs, at the same time (see the script)
        assert set(subs) == set(expected)
        for name, n in expected.items():
            sub = subs[name]
            assert sub["callbacks_before"] == 0, "sub-interpreter saw the main one's list"
            assert sub["ours_in_list"] == 1
            assert (sub["count"], sub["gen0"], sub["gen1"]) == (n + 1, n, 1), name
            assert sub["rec"] == n
            assert sub["records"] == n + 1
            assert sub["anomalies"] == 0
            if name != "keep":
                assert sub["callbacks_after"] == 0
    # The main interpreter saw none of the sub-interpreters' collections and still
    # records after one of them was destroyed while recording.
    assert res["count_before"] == res["count_after_subs"] == 1
    assert res["count_final"] == 2
    assert res["callbacks_unchanged"] and res["main_hooks_in_list"] == 1
    assert res["callbacks_after_stop"] == 0


# -- interpreter exit ---------------------------------------------------------------------

def _finals(res: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in res["_stdout"].splitlines()
            if line.startswith("FINAL ")]


@pytest.mark.parametrize("mode", ["start", "sites", "recorder", "finalizers"])
@pytest.mark.parametrize("tag", TAGS)
def test_exit_while_recording_records_the_final_collection(tag: str, mode: str) -> None:
    res = run_script("lifecycle_shutdown.py", tag, mode, dev=True)
    finals = _finals(res)
    # CPython runs one callback-visible full collection after atexit (cpython-gc.md §4);
    # gcpause's stop hook ran before the probe, so it is already counted.
    assert len(finals) == 1, res["_stdout"]
    final = finals[0]
    assert "error" not in final, final["error"]
    assert final["info_gen"] == 2
    assert final["anomalies"] == {} and final["uncollectable"] == 0
    assert final["garbage"] == 0
    if mode == "recorder":
        assert res["recording"] is False and final["count"] == 0
        assert final["rec_count"] == 2  # gc.collect(0) at the start + the final one
    else:
        assert final["count"] == res["count"] + 1
        assert final["last_gen"] == 2


@pytest.mark.parametrize("tag", TAGS)
def test_exit_while_another_thread_collects_is_clean(tag: str) -> None:
    res = run_script("lifecycle_shutdown.py", tag, "thread", dev=True)
    # The final collection is skipped if the daemon thread is inside one at that moment
    # (CPython returns 0 without callbacks); whatever ran must be consistent.
    for final in _finals(res):
        assert "error" not in final, final["error"]
        assert final["anomalies"] == {} and final["uncollectable"] == 0
        assert final["count"] > res["count"]


@pytest.mark.parametrize("tag", TAGS)
def test_exit_with_gc_disabled_runs_no_visible_collection(tag: str) -> None:
    res = run_script("lifecycle_shutdown.py", tag, "disabled", dev=True)
    assert _finals(res) == []
    assert res["recording"] is True


# -- unloading / re-importing -------------------------------------------------------------

def test_reload_and_reimport_never_leave_a_hook_in_gc_callbacks() -> None:
    res = run_script("lifecycle_reimport.py", dev=True)
    assert res["reload_same_backend"] and res["reload_still_recording"]
    assert res["reload_left"] == 0
    assert res["package_rec_count"] == 1 and res["package_left"] == 0
    assert res["full_new_module"] and res["full_new_hooks"]
    # Two module instances record side by side, each with its own two entries.
    assert res["full_counts"] == [1, 1]
    assert res["full_both_installed"] >= 2
    assert res["full_left"] == 0
    assert res["pure_new_module"] and res["pure_counts"] == [1, 1] and res["pure_left"] == 0
    assert res["callbacks_at_end"] == 0


# -- a collection with no Python frame (found by the shutdown checks) ---------------------

@pytest.mark.parametrize("tag", TAGS)
def test_sites_survive_a_collection_with_no_python_frame(tag: str) -> None:
    # GIVEN recording with sites=True
    api = Api(gcpause._backend, gcpause.Recorder) if tag == "c" else Api(_pure)
    unraisable: list[Any] = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    gc.disable()
    api.start(64, sites=True)
    try:
        # WHEN a collection runs on a thread with no Python frame on its stack, as the
        # final collection at interpreter exit does: _thread calls gc.collect directly.
        _thread.start_new_thread(gc.collect, (0,))
        for _ in range(500):  # bounded wait for that thread's collection
            if api.records():
                break
            time.sleep(0.01)
        # (a free-threaded build can refuse a collection while the other
        # thread's one is still finishing: retry, bounded)
        for _ in range(500):
            gc.collect(0)
            if len(api.records()) >= 2:
                break
            time.sleep(0.01)
        recs = api.records()
    finally:
        api.stop()
        gc.enable()
        sys.unraisablehook = old_hook
    # THEN the hook raised nothing, and only the frameless collection has no site
    assert unraisable == [], [repr(u.exc_value) for u in unraisable]
    assert len(recs) == 2
    assert recs[0].site is None
    assert recs[1].site is not None and "test_lifecycle.py" in recs[1].site


@pytest.mark.skipif(not FREE_THREADED, reason="free-threaded builds only")
def test_free_threaded_import_reenables_the_gil() -> None:
    # The module declares no Py_mod_gil (docs/reliability.md): importing it turns the
    # GIL on, with a RuntimeWarning.
    res = run_script("gil_status.py", check_stderr=False)
    assert res["before"] is False and res["after"] is True
    assert any("gcpause._core" in m for m in res["warnings"]), res
