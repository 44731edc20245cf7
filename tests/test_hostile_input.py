"""Hostile input (hypothesis): every public function of gcpause, called with arbitrary
values and types, raises nothing but TypeError/ValueError and leaves the interpreter's GC
state exactly as it was.  Calls that succeed are undone (stop(), scope exit) before the
state is compared.

Arguments whose own methods raise (``__repr__``, ``__index__``, ``__eq__``...) are
allowed to propagate their exception (Evil below), never anything else.
"""

from __future__ import annotations

import gc
import math
import sys
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gcpause
from gcpause import _pure

from .conftest import gc_state

try:
    from gcpause import _core
except ImportError:  # pragma: no cover - pure-only installs
    _core = None  # type: ignore[assignment]

ALLOWED = (TypeError, ValueError)
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


class EvilError(Exception):
    """Raised by the arguments' own dunder methods."""


ARMED = [False]  # Evil methods raise only inside _call (hypothesis reprs its examples)


def _evil(what: str) -> None:
    if ARMED[0]:
        raise EvilError(what)


class EvilInt(int):
    def __repr__(self) -> str:
        _evil("repr")
        return f"EvilInt({int(self)})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        _evil("eq")
        return int.__eq__(self, other)  # type: ignore[operator]

    __hash__ = int.__hash__


class EvilIndex:
    def __index__(self) -> int:
        _evil("index")
        return 1

    def __int__(self) -> int:
        _evil("int")
        return 1

    def __repr__(self) -> str:
        return "EvilIndex()"


class BigIndex:
    def __index__(self) -> int:
        return 2**100


class IntSub(int):
    pass


class FloatSub(float):
    pass


def _boundaries() -> st.SearchStrategy[int]:
    edges = [0, 1, 2, 3, 2**22, 2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**63, 2**64, 2**100]
    return st.sampled_from(edges + [-e for e in edges]).flatmap(
        lambda e: st.integers(e - 2, e + 2))


anything: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    _boundaries(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.5, 2.0, 1e300]),
    st.complex_numbers(allow_nan=True),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.lists(st.integers(-3, 3), max_size=3),
    st.tuples(st.integers(-3, 3)),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from([object(), type, int, len, print, Ellipsis, NotImplemented, b"", "",
                     (), [], {}, frozenset(), bytearray(b"x"), memoryview(b"x"), sys,
                     IntSub(2), IntSub(-1), IntSub(2**40), FloatSub(3.0), BigIndex(),
                     EvilIndex(), EvilInt(1), EvilInt(0), EvilInt(2**40)]),
)
OK_OR_EVIL = ALLOWED + (EvilError,)


def _state() -> tuple[Any, ...]:
    return (gc_state(), gcpause.is_recording())


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[bool, Any]:
    """(raised?, result); anything but TypeError/ValueError/EvilError fails the test."""
    ARMED[0] = True
    try:
        return False, fn(*args, **kwargs)
    except OK_OR_EVIL as exc:
        if isinstance(exc, EvilError):
            return True, exc
        assert str(exc), f"{type(exc).__name__} without a message from {fn}"
        return True, exc
    finally:
        ARMED[0] = False


def _check_unchanged(before: tuple[Any, ...], what: str) -> None:
    after = _state()
    assert after == before, f"{what} changed the GC state:\n {before}\n {after}"


def _args(max_size: int = 3) -> st.SearchStrategy[list[Any]]:
    return st.lists(anything, max_size=max_size)


# -- recording API ------------------------------------------------------------------------

@SETTINGS
@given(args=_args(), kwargs=st.dictionaries(st.sampled_from(
    ["ring_size", "sites", "x", "generation"]), anything, max_size=2))
def test_start_with_anything(args: list[Any], kwargs: dict[str, Any]) -> None:
    before = _state()
    raised, _ = _call(gcpause.start, *args, **kwargs)
    if not raised:
        assert gcpause.is_recording()
        gcpause.stop()
    _check_unchanged(before, f"start(*{args!r}, **{kwargs!r})")


@SETTINGS
@given(name=st.sampled_from(["stop", "is_recording", "reset", "total_pause_ns", "stats",
                             "records"]),
       args=_args().filter(bool))
def test_no_argument_functions_reject_arguments(name: str, args: list[Any]) -> None:
    before = _state()
    raised, exc = _call(getattr(gcpause, name), *args)
    assert raised and isinstance(exc, TypeError), f"{name}(*{args!r}) -> {exc!r}"
    _check_unchanged(before, name)


@SETTINGS
@given(args=_args(), kwargs=st.dictionaries(st.sampled_from(["ring_size", "sites", "x"]),
                                            anything, max_size=2))
def test_recorder_with_anything(args: list[Any], kwargs: dict[str, Any]) -> None:
    before = _state()
    raised, rec = _call(gcpause.Recorder, *args, **kwargs)
    if not raised:
        with rec:
            gc.collect(0)
        assert rec.stats.count >= 1
    _check_unchanged(before, f"Recorder(*{args!r}, **{kwargs!r})")


@SETTINGS
@given(q=anything)
def test_percentile_with_anything(q: Any) -> None:
    with gcpause.Recorder() as rec:
        gc.collect(0)
    before = _state()
    for target in (rec.stats, rec.stats.generations[0], gcpause.stats()):
        raised, res = _call(target.percentile, q)
        if not raised:
            assert isinstance(res, int) and 0 <= res <= max(target.max_ns, 0)
    _check_unchanged(before, f"percentile({q!r})")


@SETTINGS
@given(args=_args(10))
def test_pause_with_anything(args: list[Any]) -> None:
    raised, p = _call(gcpause.Pause, *args)
    if not raised:
        assert tuple(p) == tuple(args[:6])
        repr(p)


# -- control API --------------------------------------------------------------------------

CONTROL = ["paused", "young_only", "budget", "thresholds", "collect", "freeze", "flavor"]


def _control() -> Any:
    pytest.importorskip("gcpause.control")
    return gcpause


@SETTINGS
@given(name=st.sampled_from(["paused", "young_only", "budget", "thresholds",
                             "Paused", "YoungOnly", "Budget", "Thresholds"]),
       args=_args(), kwargs=st.dictionaries(st.sampled_from(
           ["collect", "objects", "gen0", "gen1", "gen2", "x"]), anything, max_size=2))
def test_control_scopes_with_anything(name: str, args: list[Any],
                                      kwargs: dict[str, Any]) -> None:
    g = _control()
    before = _state()
    raised, scope = _call(getattr(g, name), *args, **kwargs)
    if not raised:
        # Valid: entering and leaving (also by an exception) restores everything.
        with scope:
            pass
        try:
            with scope:
                raise KeyError("inside")
        except KeyError:
            pass
        # And as a decorator.
        scope(lambda: None)()
    _check_unchanged(before, f"{name}(*{args!r}, **{kwargs!r})")


@SETTINGS
@given(args=_args(2), kwargs=st.dictionaries(st.sampled_from(["generation", "x"]), anything,
                                             max_size=1))
def test_collect_with_anything(args: list[Any], kwargs: dict[str, Any]) -> None:
    g = _control()
    before = _state()
    raised, p = _call(g.collect, *args, **kwargs)
    if not raised:
        assert isinstance(p, gcpause.Pause) and p.generation in (0, 1, 2)
    _check_unchanged(before, f"collect(*{args!r}, **{kwargs!r})")


@SETTINGS
@given(name=st.sampled_from(["freeze", "flavor"]), args=_args().filter(bool))
def test_control_no_argument_functions_reject_arguments(name: str, args: list[Any]) -> None:
    g = _control()
    before = _state()
    raised, exc = _call(getattr(g, name), *args)
    assert raised and isinstance(exc, TypeError), f"{name}(*{args!r}) -> {exc!r}"
    _check_unchanged(before, name)


@SETTINGS
@given(scope=st.sampled_from(["paused", "young_only", "budget", "thresholds"]),
       func=anything)
def test_scope_decorating_a_non_callable_is_a_type_error(scope: str, func: Any) -> None:
    g = _control()
    if callable(func):
        return
    s = g.budget(10) if scope == "budget" else (
        g.thresholds(700) if scope == "thresholds" else getattr(g, scope)())
    before = _state()
    raised, exc = _call(s, func)
    assert raised and isinstance(exc, TypeError), f"{scope}()({func!r}) -> {exc!r}"
    _check_unchanged(before, scope)


@SETTINGS
@given(args=_args(5))
def test_freeze_result_with_anything(args: list[Any]) -> None:
    # A plain immutable record: any four values, TypeError for another count.
    raised, r = _call(_control().FreezeResult, *args)
    assert raised == (len(args) != 4), (args, r)


def test_every_public_callable_is_covered() -> None:
    # A new public function must get a hostile-input test here.
    covered = {"start", "stop", "is_recording", "reset", "total_pause_ns", "stats",
               "records", "Recorder", "Pause", "Stats", "GenStats", *CONTROL,
               "Paused", "YoungOnly", "Budget", "Thresholds", "FreezeResult"}
    public = {n for n in gcpause.__all__ if callable(getattr(gcpause, n, None))}
    assert public <= covered, sorted(public - covered)


# -- the backends' own entry points (private, but reachable; C is where crashes hide) -----

BACKENDS = [pytest.param(_core, id="c", marks=pytest.mark.skipif(
    _core is None, reason="gcpause._core unavailable")), pytest.param(_pure, id="pure")]
BACKEND_ALLOWED = OK_OR_EVIL + (OverflowError,)


@pytest.mark.parametrize("backend", BACKENDS)
@SETTINGS
@given(name=st.sampled_from(["start", "open_window", "window_snapshot", "close_window",
                             "hist_index", "snapshot", "records", "stop", "reset",
                             "total_pause_ns", "is_recording", "hooks", "clock_ns"]),
       args=_args())
def test_backend_functions_with_anything(backend: Any, name: str, args: list[Any]) -> None:
    before = _state()
    ARMED[0] = True
    try:
        res = getattr(backend, name)(*args)
    except BACKEND_ALLOWED:
        pass
    else:
        if name == "start":
            backend.stop()
        elif name == "open_window":
            backend.close_window(res)
    finally:
        ARMED[0] = False
    _check_unchanged(before, f"{backend.__name__}.{name}(*{args!r})")


@pytest.mark.parametrize("backend", BACKENDS)
@SETTINGS
@given(args=_args(4))
def test_hooks_called_directly_with_anything(backend: Any, args: list[Any]) -> None:
    # Someone calls our GC callbacks by hand: nothing may raise, recording is not broken.
    wid = backend.open_window(16)
    ARMED[0] = True
    try:
        for hook in backend.hooks():
            assert hook(*args) is None
        gc.collect(0)
    finally:
        ARMED[0] = False
        raw, recs = backend.close_window(wid)
    assert raw[6][3][0] >= 1  # the real collection was still recorded
