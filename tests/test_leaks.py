"""Leak checks: tests/isolated/leak_*.py repeat every API call thousands of times in a fresh
interpreter; here we assert that refcounts, GC-tracked objects and RSS stay flat.

Protocol (see the scripts): warm-up of N iterations (free lists and pymalloc arenas
settle), then phases A and B of N iterations each; B's growth is what must be ~0.
GCPAUSE_FULL_CHECK=1 runs 5x more iterations.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from gcpause import IMPLEMENTATION

from .isolated._runner import FREE_THREADED, run_script

FULL = os.environ.get("GCPAUSE_FULL_CHECK", "") not in ("", "0")
SCALE = 5 if FULL else 1
# A leaked object per iteration would show as >= N objects; a few may come and go with
# caches (type attribute cache, interned strings of a late import).
OBJECT_SLACK = 16
# RSS is page-granular and pymalloc/glibc keep freed arenas; a leak of one Recorder window
# (~72 KiB of histograms) per iteration would be hundreds of MiB.
RSS_SLACK = 512 * 1024


def _check_flat(res: dict[str, Any]) -> None:
    a, b = res["after_a"], res["after_b"]
    n = res["iterations"]
    growth_objects = b["objects"] - a["objects"]
    growth_rss = b["rss"] - a["rss"]
    assert growth_objects <= OBJECT_SLACK, (
        f"{growth_objects} GC-tracked objects more after {n} iterations: {res}")
    if b["rss"] >= 0:
        assert growth_rss <= RSS_SLACK, (
            f"RSS grew by {growth_rss} bytes ({growth_rss / n:.1f} B/iteration): {res}")
    if FREE_THREADED:
        # Deferred/biased reference counting makes sys.getrefcount of shared objects
        # unstable on free-threaded builds (multidict's leak scripts skip it likewise).
        return
    changed = {k: (a["refs"][k], b["refs"][k]) for k in a["refs"]
               if a["refs"][k] != b["refs"][k]}
    assert not changed, f"refcounts changed between phases A and B: {changed}"


@pytest.mark.parametrize("tag", [
    pytest.param("c", marks=[pytest.mark.c_extension, pytest.mark.skipif(
        IMPLEMENTATION != "c", reason="gcpause._core unavailable")]),
    "pure",
])
def test_recording_api_does_not_leak(tag: str) -> None:
    res = run_script("leak_recording.py", tag, str(1000 * SCALE), timeout=300)
    assert res["callbacks"] == 0, "hooks left in gc.callbacks after the last stop()"
    _check_flat(res)


def test_control_api_does_not_leak() -> None:
    res = run_script("leak_control.py", str(500 * SCALE), timeout=300)
    _check_flat(res)


def test_leak_check_detects_a_leak() -> None:
    # The checker itself: a workload that keeps one object per iteration must fail it.
    res = run_script("leak_selftest.py", "500")
    with pytest.raises(AssertionError, match="GC-tracked objects more"):
        _check_flat(res)
    if FREE_THREADED:
        return  # refcounts are not compared there
    with pytest.raises(AssertionError, match="refcounts changed"):
        _check_flat({**res, "after_a": {**res["after_a"], "objects": res["after_b"]["objects"],
                                        "rss": res["after_b"]["rss"]}})
