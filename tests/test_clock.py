"""The C recorder's clock: a CPU counter (TSC / cntvct) mapped to CLOCK_MONOTONIC
(csrc/tickclock.h), with GCPAUSE_CLOCK=monotonic as the escape hatch."""

from __future__ import annotations

import gc
import os
import platform
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest

import gcpause

from .conftest import gc_disabled

pytestmark = pytest.mark.skipif(gcpause.IMPLEMENTATION != "c",
                                reason="the tick clock is part of the C recorder")

if gcpause.IMPLEMENTATION == "c":
    from gcpause import _core


def info() -> dict[str, Any]:
    return dict(_core.clock_info())


def expected_sources() -> set[str]:
    """What the CPU offers, read independently of gcpause: the kernel sets both flags
    from CPUID 80000007H EDX bit 8 (invariant TSC).  Without /proc (the chroot test
    tree) either answer is possible on x86-64, but nothing else."""
    machine = platform.machine().lower()
    if machine in ("aarch64", "arm64"):
        return {"cntvct"}
    if machine in ("x86_64", "amd64") and sys.platform == "linux":
        try:
            with open("/proc/cpuinfo") as f:
                flags = next((line.split(":", 1)[1].split() for line in f
                              if line.startswith("flags")), [])
        except FileNotFoundError:
            return {"tsc", "clock_gettime"}
        return {"tsc" if {"constant_tsc", "nonstop_tsc"} <= set(flags) else "clock_gettime"}
    pytest.skip(f"no expectation for {machine} on {sys.platform}")


def collect_within(n: int, pause_s: float = 0.0) -> list[tuple[int, int, Any]]:
    """n explicit collections, each with the monotonic window measured around it."""
    out = []
    for _ in range(n):
        t0 = time.monotonic_ns()
        gc.collect(0)
        t1 = time.monotonic_ns()
        out.append((t0, t1, gcpause.records()[-1]))
        if pause_s:
            time.sleep(pause_s)
    return out


def assert_inside(windows: list[tuple[int, int, Any]]) -> None:
    for t0, t1, p in windows:
        assert t0 <= p.start_ns and p.start_ns + p.duration_ns <= t1, (t0, t1, p)


@pytest.fixture
def recording() -> Iterator[None]:
    with gc_disabled():
        gcpause.start()
        try:
            yield
        finally:
            gcpause.stop()


def calibrate() -> None:
    """Run collections until the clock maps ticks (at least 1 ms after its anchor)."""
    deadline = time.monotonic() + 5
    while not info()["calibrated"] and time.monotonic() < deadline:
        gc.collect(0)
        time.sleep(0.0005)


def test_source_is_what_the_cpu_offers() -> None:
    i = info()
    assert set(i) == {"source", "calibrated", "ns_per_tick", "anchors", "recalibrations"}
    if os.environ.get("GCPAUSE_CLOCK") == "monotonic":
        assert i["source"] == "clock_gettime"
    else:
        assert i["source"] in expected_sources()


def test_calibrates_after_a_millisecond_and_keeps_records_on_the_monotonic_clock(
        recording: None) -> None:
    if info()["source"] == "clock_gettime":
        pytest.skip("no usable CPU counter here: every read is clock_gettime")
    _core.recalibrate()
    assert info()["calibrated"] is False
    before = collect_within(3)          # read with clock_gettime while calibrating
    calibrate()
    i = info()
    assert i["calibrated"] is True
    # Any real counter runs between 1 MHz and 100 GHz.
    assert 0.01 < i["ns_per_tick"] < 1000
    after = collect_within(20, pause_s=0.0002)
    assert_inside(before + after)
    # Anchors thin out under load but keep coming (one per <= 50 ms).
    anchors = info()["anchors"]
    collect_within(40, pause_s=0.005)
    assert info()["anchors"] > anchors


def test_a_long_idle_gap_re_anchors_before_converting(recording: None) -> None:
    calibrate()
    time.sleep(0.2)                      # the anchor is now stale
    anchors = info()["anchors"]
    assert_inside(collect_within(1))
    if info()["calibrated"]:
        assert info()["anchors"] == anchors + 1


def test_full_collections_are_timed_like_clock_gettime(recording: None) -> None:
    # A heap that makes a multi-millisecond pause: a rate error would show here.
    keep = [[] for _ in range(200_000)]
    calibrate()
    for _ in range(3):
        t0 = time.monotonic_ns()
        gc.collect()
        t1 = time.monotonic_ns()
        p = gcpause.records()[-1]
        assert t0 <= p.start_ns and p.start_ns + p.duration_ns <= t1
        assert p.duration_ns > (t1 - t0) * 0.5
    del keep


def test_recalibrate_inside_a_collection_waits_for_its_end(recording: None) -> None:
    calibrate()
    n = info()["recalibrations"]
    calls = []

    def cb(phase: str, info_: dict[str, int]) -> None:
        if phase == "start":
            calls.append(phase)
            _core.recalibrate()          # between our start and stop reads

    gc.callbacks.append(cb)
    try:
        windows = collect_within(1)
    finally:
        gc.callbacks.remove(cb)
    assert calls == ["start"]
    assert_inside(windows)
    i = info()
    assert i["recalibrations"] == n + 1
    if i["source"] != "clock_gettime":
        assert i["calibrated"] is False   # applied once the collection was over
    calibrate()
    assert_inside(collect_within(5))


def test_clock_error_is_sampled_only_between_collections(recording: None) -> None:
    if info()["source"] == "clock_gettime":
        pytest.skip("no usable CPU counter here: nothing is mapped")
    calibrate()
    errs = [e for e in (_core.clock_error_ns() for _ in range(200)) if e is not None]
    assert len(errs) >= 190          # None only if an anchor read failed its rate check
    errs.sort()
    # Loose: a mapped reading lands near clock_gettime's (bench_overhead.py reports the
    # real spread); a wrong rate or anchor would be off by micro- to milliseconds.
    assert abs(errs[len(errs) // 2]) < 1_000_000
    seen = []

    def cb(phase: str, info_: dict[str, int]) -> None:
        seen.append((phase, _core.clock_error_ns()))

    gc.callbacks.append(cb)           # placed between our two hooks: [H, cb, P]
    try:
        windows = collect_within(1)
    finally:
        gc.callbacks.remove(cb)
    # During the collection: None.  In the stop phase our first hook has already
    # recorded it, so the clock may be read again.
    assert seen[0] == ("start", None)
    assert seen[1][0] == "stop" and isinstance(seen[1][1], int)
    assert_inside(windows)


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    e = dict(os.environ)
    e.update(env)
    e.pop("GCPAUSE_NO_EXTENSIONS", None)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=e,
                          capture_output=True, text=True, timeout=120, check=False)


def test_gcpause_clock_monotonic_reads_clock_gettime_every_time() -> None:
    p = run_python("""
        import gc, time
        import gcpause
        from gcpause import _core
        gc.disable()
        gcpause.start()
        for _ in range(50):
            t0 = time.monotonic_ns(); gc.collect(0); t1 = time.monotonic_ns()
            r = gcpause.records()[-1]
            assert t0 <= r.start_ns and r.start_ns + r.duration_ns <= t1, (t0, t1, r)
            time.sleep(0.0002)
        i = _core.clock_info()
        assert i["source"] == "clock_gettime" and not i["calibrated"], i
        assert i["anchors"] == 0, i
        assert _core.clock_error_ns() is None
        print("ok")
    """, GCPAUSE_CLOCK="monotonic", GCPAUSE_REQUIRE_C="1")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "ok"


@pytest.mark.parametrize("value", ["fast", "TSC", " monotonic"])
def test_a_bad_gcpause_clock_fails_the_import_naming_the_variable(value: str) -> None:
    p = run_python("import gcpause", GCPAUSE_CLOCK=value)
    assert p.returncode == 1
    assert "ValueError: GCPAUSE_CLOCK must be 'auto' or 'monotonic', not" in p.stderr
    assert repr(value) in p.stderr


def test_gcpause_clock_auto_and_empty_mean_the_default() -> None:
    for value in ("auto", ""):
        p = run_python("from gcpause import _core; print(_core.clock_info()['source'])",
                       GCPAUSE_CLOCK=value, GCPAUSE_REQUIRE_C="1")
        assert p.returncode == 0, p.stderr
        assert p.stdout.strip() in expected_sources()
