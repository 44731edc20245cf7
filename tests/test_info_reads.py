"""How the C recorder reads the GC's stop-info dict (csrc/infolayout.h): CPython's own
dicts through the layout learned at import, anything else through PyDict_Next or
lookups, with the same results."""

from __future__ import annotations

import gc
import sys
from typing import Any, Callable

import pytest

import gcpause

from .conftest import gc_disabled

pytestmark = [pytest.mark.skipif(gcpause.IMPLEMENTATION != "c",
                                 reason="the learned dict layout is part of the C recorder"),
              pytest.mark.usefixtures("empty_callbacks")]

if gcpause.IMPLEMENTATION == "c":
    from gcpause import _core

PY315 = sys.version_info >= (3, 15)


def reads() -> tuple[int, int]:
    r = _core.info_reads()
    return r["fast"], r["slow"]


def test_cpython_stop_dicts_take_the_learned_layout() -> None:
    assert _core.info_reads()["layout_learned"] is True
    keep = [[] for _ in range(20_000)]
    with gc_disabled():
        gcpause.start()
        try:
            fast0, slow0 = reads()
            for g in (0, 1, 2, 0, 2, 1):
                gc.collect(g)
            fast, slow = reads()
            recs = gcpause.records()
        finally:
            gcpause.stop()
    del keep
    assert (fast - fast0, slow - slow0) == (6, 0)
    assert [p.generation for p in recs[-6:]] == [0, 1, 2, 0, 2, 1]
    assert all(p.collected >= 0 and p.uncollectable == 0 for p in recs[-6:])
    if PY315:
        assert all(p.cpython_duration_ns is not None for p in recs[-6:])


def _deleted() -> dict[str, Any]:
    d: dict[str, Any] = {"x": 0, "generation": 2, "collected": 7, "uncollectable": 1}
    del d["x"]          # same three items, one dead entry in front
    return d


class Sub(dict):  # type: ignore[type-arg]
    pass


class Obj:
    def __init__(self) -> None:
        self.generation = 2
        self.collected = 7
        self.uncollectable = 1


def _split() -> dict[str, Any]:
    return Obj().__dict__     # a split-table (or inline-values) dict on most versions


def _keyword() -> dict[str, Any]:
    return dict(generation=2, collected=7, uncollectable=1)


def _literal() -> dict[str, Any]:
    return {"generation": 2, "collected": 7, "uncollectable": 1}


def _reversed() -> dict[str, Any]:
    return {"uncollectable": 1, "collected": 7, "generation": 2}


def _extra() -> dict[str, Any]:
    return {"generation": 2, "collected": 7, "uncollectable": 1, "candidates": 9,
            "duration": 0.25, "more": None}


def _lookalike_keys() -> dict[str, Any]:
    # Same lengths, first and last letters as CPython's keys, other strings: not read
    # as those keys, so the record shows the dict as malformed.
    return {"gxxxxxxxxn": 2, "cxxxxxxxd": 7, "uxxxxxxxxxxxe": 1}


@pytest.mark.parametrize("make", [_deleted, lambda: Sub(_literal()), _split, _keyword,
                                  _literal, _reversed, _extra],
                         ids=["deleted-entry", "subclass", "split", "keywords", "literal",
                              "reversed", "extra-keys"])
def test_any_dict_with_the_keys_is_read_right(make: Callable[[], dict[str, Any]]) -> None:
    hook = _core.hooks()[0]
    with gc_disabled():
        gcpause.start()
        try:
            hook("start", {"generation": 2, "collected": 0, "uncollectable": 0})
            hook("stop", make())
            rec = gcpause.records()[-1]
            an = gcpause.stats().anomalies
        finally:
            gcpause.stop()
    assert (rec.generation, rec.collected, rec.uncollectable) == (2, 7, 1)
    assert an["bad_info"] == 0
    if make is _extra and PY315:
        assert rec.cpython_duration_ns == 250_000_000


def test_lookalike_keys_are_not_taken_for_cpythons() -> None:
    hook = _core.hooks()[0]
    with gc_disabled():
        gcpause.start()
        try:
            hook("start", {"generation": 2})
            hook("stop", _lookalike_keys())
            rec = gcpause.records()[-1]
            an = gcpause.stats().anomalies
        finally:
            gcpause.stop()
    assert rec.generation == -1 and an["bad_info"] == 1


def test_a_dict_changed_by_an_earlier_callback_is_still_read_right() -> None:
    # A Python callback placed before ours (it is moved back by the repair, but this
    # collection's stop runs it first) adds a key: the layout no longer matches.
    def meddle(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop":
            info["meddled"] = True

    with gc_disabled():
        gcpause.start()
        try:
            gc.callbacks.insert(0, meddle)
            gc.collect(1)
            rec = gcpause.records()[-1]
        finally:
            gcpause.stop()
            if meddle in gc.callbacks:
                gc.callbacks.remove(meddle)
    assert rec.generation == 1 and rec.uncollectable == 0


CPYTHON_KEYS = ["generation", "collected", "uncollectable"] + (
    ["candidates", "duration"] if PY315 else [])


def _inserted(keys: list[str], values: list[Any]) -> dict[str, Any]:
    # Built the way CPython builds the stop dict (an empty dict, then one insertion per
    # key, in order), so its keys object has the learned layout.
    d: dict[str, Any] = {}
    for k, v in zip(keys, values):
        d[k] = v
    return d


def _stop_with(info: dict[str, Any]) -> tuple[Any, int, int, int]:
    """(record, fast reads, slow reads, bad_info anomalies) for one hand-fed collection."""
    hook = _core.hooks()[0]
    with gc_disabled():
        gcpause.start()
        try:
            fast0, slow0 = reads()
            hook("start", {"generation": 2, "collected": 0, "uncollectable": 0})
            hook("stop", info)
            fast, slow = reads()
            rec = gcpause.records()[-1]
            an = gcpause.stats().anomalies
        finally:
            gcpause.stop()
    return rec, fast - fast0, slow - slow0, an["bad_info"]


def test_a_dict_built_like_cpythons_takes_the_fast_path_only_with_its_keys() -> None:
    extra = [0, 0.5] if PY315 else []
    rec, fast, slow, bad = _stop_with(_inserted(CPYTHON_KEYS, [2, 7, 1] + extra))
    assert (fast, slow, bad) == (1, 0, 0)
    assert (rec.generation, rec.collected, rec.uncollectable) == (2, 7, 1)
    # Same construction and layout, other keys: the key check sends it the long way.
    rec, fast, slow, bad = _stop_with(_inserted(
        ["gxxxxxxxxn", "cxxxxxxxd", "uxxxxxxxxxxxe"] + CPYTHON_KEYS[3:], [2, 7, 1] + extra))
    assert (fast, slow, bad) == (0, 1, 1)
    assert rec.generation == -1


@pytest.mark.parametrize("collected", [2**40, -3, 2**30 + 5],
                         ids=["two-digit", "negative", "just-past-one-digit"])
def test_counts_that_are_not_small_ints_are_read_exactly(collected: int) -> None:
    extra = [0, 0.5] if PY315 else []
    rec, fast, slow, bad = _stop_with(_inserted(CPYTHON_KEYS, [1, collected, 0] + extra))
    assert (fast, slow, bad) == (1, 0, 0)
    assert (rec.generation, rec.collected, rec.uncollectable) == (1, collected, 0)


def test_a_count_beyond_int64_is_an_anomaly() -> None:
    extra = [0, 0.5] if PY315 else []
    rec, fast, slow, bad = _stop_with(_inserted(CPYTHON_KEYS, [1, 2**70, 0] + extra))
    assert (fast, slow, bad) == (0, 1, 1)
    assert rec.generation == 1 and rec.collected == 0
