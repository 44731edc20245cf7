"""Scoped control of the cyclic collector: paused(), young_only(), budget(), thresholds(),
plus collect(), freeze() and flavor().

Invariants kept here:

- The interpreter's GC state that scopes touch is the enabled flag and the three thresholds.
  The first scope to enter (in any thread) saves it; the last to leave restores it exactly,
  also when the block raises.  In between, the state is recomputed from the registry of
  active requests and re-asserted at every scope entry and exit: the strongest request wins
  (paused > budget > young_only > thresholds only), explicit thresholds() values are the base
  the others build on.
- Automatic collection is blocked with thresholds, not only with the enabled flag: inside
  paused() every threshold is 2**31 - 1 *and* the flag is off, so a stray ``gc.enable()``
  cannot restart automatic collection, and a collection already scheduled on the eval
  breaker (3.12+) finds no generation over its threshold (threshold0 = 0 would instead let
  it run generation 0; see docs/control.md).
- Bad input raises TypeError/ValueError naming the argument before anything changes;
  conflicting explicit thresholds from two threads raise RuntimeError before anything
  changes.
- The module lock is never taken from a GC callback (the budget callback reads an immutable
  tuple) nor while a collection is requested: gc.collect() runs after the lock is released.
  A scope entered by a finalizer that runs while this thread is inside gcpause's own
  critical section is inert; a scope left that way is queued and processed on the way out.
- After fork(), the child keeps only the forking thread's requests and gets a fresh lock.
"""

from __future__ import annotations

import functools
import gc
import os
import sys
import threading
import time

from ._recording import Pause

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any, Callable, TypeVar

    F = TypeVar("F", bound=Callable[..., Any])
    S = TypeVar("S", bound="_Scope")

__all__ = [
    "Budget",
    "FreezeResult",
    "Paused",
    "Thresholds",
    "YoungOnly",
    "budget",
    "collect",
    "flavor",
    "freeze",
    "paused",
    "thresholds",
    "young_only",
]

#: Largest threshold CPython accepts (thresholds are C ints).
THRESHOLD_MAX = 2**31 - 1

# Request kinds, weakest first: the strongest active kind decides the effective state.
_THRESH, _YOUNG, _BUDGET, _PAUSED = 0, 1, 2, 3


class _Request:
    """One active scope entry in the registry."""

    __slots__ = ("kind", "thread", "explicit", "objects", "gen0", "exceeded", "counts")

    def __init__(self, kind: int, explicit: tuple[int | None, int | None, int | None] = (
            None, None, None), objects: int = 0) -> None:
        self.kind = kind
        self.thread = threading.get_ident()
        self.explicit = explicit
        # budget() only: its size, the gen-0 count that ends it (set at entry), and what
        # _budget_callback saw while it was active.
        self.objects = objects
        self.gen0 = 0
        self.exceeded = False
        self.counts = [0, 0, 0]


_lock = threading.Lock()
_owner: int | None = None  # ident of the thread inside the critical section
_active: list[_Request] = []
_saved: tuple[bool, tuple[int, ...]] | None = None  # (enabled, thresholds) before the first
_to_collect = -1  # oldest generation to collect once the state is restored (-1: none)
_orphans: list[tuple[_Request, int]] = []  # exits that arrived during our critical section
_budgets: tuple[_Request, ...] = ()  # active budget requests; read lock-free by the callback
_flavor: str | None = None


# -- validation --------------------------------------------------------------------------

def _check_int(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value!r}")
    return int(value)


def _check_collect(collect: object) -> int:
    """``collect`` argument of a scope: None -> -1, else a generation 0..2."""
    if collect is None:
        return -1
    if isinstance(collect, bool) or not isinstance(collect, int):
        hint = (" (to decorate, call the scope first: @gcpause.paused())"
                if callable(collect) else "")
        raise TypeError(f"collect must be None or an int 0..2, not "
                        f"{type(collect).__name__}{hint}")
    if not 0 <= collect <= 2:
        raise ValueError(f"collect must be None or 0, 1 or 2, got {collect!r}")
    return int(collect)


# -- flavour ---------------------------------------------------------------------------

def _probe_flavor() -> str:
    import sysconfig  # noqa: PLC0415 - only needed once

    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        return "free-threaded"
    # The incremental collector (3.14.0-3.14.4 default builds, early 3.15 alphas) stores a
    # third threshold nowhere visible: get_threshold()[2] stays 0 (cpython-gc.md §1).
    old = gc.get_threshold()
    probe = 7 if old[2] != 7 else 8
    try:
        gc.set_threshold(old[0], old[1], probe)
        got = gc.get_threshold()[2]
    finally:
        gc.set_threshold(*old)
    return "generational" if got == probe else "incremental"


def flavor() -> str:
    """Which cyclic collector this interpreter runs.

    ``"free-threaded"`` (a ``--disable-gil`` build, whole-heap collections),
    ``"incremental"`` (default builds of CPython 3.14.0-3.14.4: young collections plus
    increments of the old space) or ``"generational"`` (everything else).  Detected once
    with a thresholds probe that restores the thresholds it read; cached afterwards.
    """
    global _flavor, _owner
    if _flavor is not None:
        return _flavor
    me = threading.get_ident()
    if _owner == me:  # called from a finalizer inside our own critical section
        return _probe_flavor()
    with _lock:
        _owner = me
        try:
            if _flavor is None:
                _flavor = _probe_flavor()
        finally:
            _owner = None
    return _flavor


def _default_gen0() -> int:
    return 700 if sys.version_info < (3, 13) else 2000


# -- the registry ----------------------------------------------------------------------

def _target_locked() -> tuple[tuple[int, ...], bool]:
    """Effective (thresholds, enabled) for the active requests."""
    assert _saved is not None
    enabled, base = _saved
    t = list(base)
    for r in _active:  # oldest first, so later explicit values override earlier ones
        if r.kind == _THRESH:
            for i, v in enumerate(r.explicit):
                if v is not None:
                    t[i] = v
    strongest = max(r.kind for r in _active)
    if strongest == _PAUSED:
        return (THRESHOLD_MAX, THRESHOLD_MAX, THRESHOLD_MAX), False
    if strongest == _THRESH:
        return tuple(t), enabled
    if strongest == _BUDGET:
        gen0 = max(r.gen0 for r in _active if r.kind == _BUDGET)
    else:
        gen0 = t[0] if t[0] > 0 else _default_gen0()
    fl = _flavor
    if fl == "generational":
        # Generations 1 and 2 out of reach: every automatic collection is generation 0.
        return (gen0, THRESHOLD_MAX, THRESHOLD_MAX), True
    if fl == "incremental":
        # Each automatic run is an increment; a huge threshold1 shrinks its old-space share
        # to almost nothing, so it is close to a young collection (cpython-gc.md §1, §3).
        return (gen0, THRESHOLD_MAX, t[2]), True
    # Free-threaded: every collection is whole-heap; keep its own deferral heuristics.
    return (gen0, t[1], t[2]), True


def _apply_locked() -> None:
    thresholds_, enabled = _target_locked()
    if gc.get_threshold() != thresholds_:
        gc.set_threshold(*thresholds_)
    if gc.isenabled() != enabled:
        (gc.enable if enabled else gc.disable)()


def _restore_locked() -> None:
    global _saved
    assert _saved is not None
    enabled, thresholds_ = _saved
    _saved = None
    gc.set_threshold(*thresholds_)
    (gc.enable if enabled else gc.disable)()


def _enter_locked(req: _Request) -> None:
    global _saved, _budgets, _flavor
    if _flavor is None:
        _flavor = _probe_flavor()
    if req.kind == _THRESH:
        for r in _active:
            if r.kind == _THRESH and r.thread != req.thread:
                for i, (a, b) in enumerate(zip(r.explicit, req.explicit)):
                    if a is not None and b is not None and a != b:
                        raise RuntimeError(
                            f"thresholds(): gen{i}={b} conflicts with gen{i}={a} set by "
                            f"another thread's active thresholds() scope")
    first = not _active
    if first:
        _saved = (gc.isenabled(), gc.get_threshold())
    if req.kind == _BUDGET:
        req.gen0 = min(THRESHOLD_MAX, gc.get_count()[0] + req.objects)
    _active.append(req)
    try:
        if req.kind == _BUDGET:
            if not _budgets:
                gc.callbacks.append(_budget_callback)
            _budgets = (*_budgets, req)
        _apply_locked()
    except BaseException:
        _leave_locked(req, -1)
        raise


def _leave_locked(req: _Request, collect: int) -> None:
    global _to_collect, _budgets
    for i, r in enumerate(_active):
        if r is req:
            del _active[i]
            break
    else:
        return
    if req.kind == _BUDGET:
        _budgets = tuple(r for r in _budgets if r is not req)
        if not _budgets and _budget_callback in gc.callbacks:
            gc.callbacks.remove(_budget_callback)
    _to_collect = max(_to_collect, collect)
    if _active:
        _apply_locked()
    else:
        _restore_locked()


def _critical(action: Callable[..., None], *args: Any) -> bool:
    """Run ``action(*args)`` under the lock; then any collection the exit asked for.

    Returns False (doing nothing) if this thread is already inside the critical section,
    i.e. a finalizer or weakref callback run by a collection during our own update.
    """
    global _owner, _to_collect
    me = threading.get_ident()
    if _owner == me:
        return False
    with _lock:
        _owner = me
        try:
            action(*args)
            while _orphans:
                _leave_locked(*_orphans.pop())
        finally:
            gen = -1
            if _saved is None:  # the state was restored: run the requested collection
                gen, _to_collect = _to_collect, -1
            _owner = None
    if gen >= 0:
        gc.collect(gen)
    return True


def _enter(req: _Request) -> bool:
    return _critical(_enter_locked, req)


def _leave(req: _Request, collect: int) -> None:
    if not _critical(_leave_locked, req, collect):
        _orphans.append((req, collect))


def _after_fork_in_child() -> None:
    """Only the forking thread survives a fork: drop the other threads' requests (their
    scopes can never exit in the child) and replace a lock another thread may have held."""
    global _lock, _owner, _to_collect
    _lock = threading.Lock()
    _owner = None
    me = threading.get_ident()
    for req in [r for r in _active if r.thread != me]:
        _leave_locked(req, -1)
    _to_collect = -1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _budget_callback(phase: str, info: dict[str, Any]) -> None:
    # In gc.callbacks while a budget() scope is active.  Takes no lock, raises nothing.
    reqs = _budgets
    if not reqs:
        return
    if phase == "start":
        count0 = gc.get_count()[0]  # not yet reset at "start" (3.9-3.15)
        for r in reqs:
            if count0 > r.gen0:
                r.exceeded = True
    else:
        g = info.get("generation") if isinstance(info, dict) else None
        if g in (0, 1, 2):
            for r in reqs:
                r.counts[g] += 1


# -- scopes ----------------------------------------------------------------------------

class _Scope:
    """Context manager (sync and async) and decorator; see the public factories."""

    _kind = _THRESH

    def __init__(self, collect: int | None = None) -> None:
        self._collect = _check_collect(collect)
        self._reqs: dict[int, list[_Request | None]] = {}

    def _copy(self) -> _Scope:
        raise NotImplementedError

    def _request(self) -> _Request:
        return _Request(self._kind)

    def __enter__(self: S) -> S:
        req = self._request()
        registered = _enter(req)
        self._reqs.setdefault(req.thread, []).append(req if registered else None)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        stack = self._reqs.get(threading.get_ident())
        if not stack:
            raise RuntimeError(f"{type(self).__name__}: __exit__ without a matching __enter__ "
                               f"in this thread")
        req = stack.pop()
        if not stack:
            del self._reqs[threading.get_ident()]
        if req is not None:
            _leave(req, self._collect)

    async def __aenter__(self: S) -> S:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        """Decorate ``func`` (sync or ``async def``): each call runs in a fresh scope."""
        import inspect  # noqa: PLC0415 - ~4 ms; only decorators need it

        if not callable(func):
            raise TypeError(f"func must be callable, not {type(func).__name__}")
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError("func must not be a generator function: a scope held across "
                            "yields would apply to whatever runs while it is suspended")
        template = self
        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with template._copy():
                    return await func(*args, **kwargs)
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with template._copy():
                return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]

    @property
    def active(self) -> bool:
        """True while this object has an entry that has not exited (any thread)."""
        return bool(self._reqs)

    def _args(self) -> str:
        return "" if self._collect < 0 else f"collect={self._collect}"

    def __repr__(self) -> str:
        return f"gcpause.{type(self).__name__.lower()}({self._args()})"


class Paused(_Scope):
    """See :func:`paused`."""

    _kind = _PAUSED

    def _copy(self) -> Paused:
        return Paused(None if self._collect < 0 else self._collect)

    def __repr__(self) -> str:
        return f"gcpause.paused({self._args()})"


class YoungOnly(_Scope):
    """See :func:`young_only`."""

    _kind = _YOUNG

    def _copy(self) -> YoungOnly:
        return YoungOnly(None if self._collect < 0 else self._collect)

    def __repr__(self) -> str:
        return f"gcpause.young_only({self._args()})"


class Thresholds(_Scope):
    """See :func:`thresholds`."""

    def __init__(self, gen0: int, gen1: int | None = None, gen2: int | None = None) -> None:
        super().__init__(None)
        self.values: tuple[int | None, int | None, int | None] = (
            _check_int(gen0, "gen0", 0, THRESHOLD_MAX),
            None if gen1 is None else _check_int(gen1, "gen1", 0, THRESHOLD_MAX),
            None if gen2 is None else _check_int(gen2, "gen2", 0, THRESHOLD_MAX))

    def _request(self) -> _Request:
        return _Request(_THRESH, self.values)

    def _copy(self) -> Thresholds:
        return Thresholds(*self.values)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        args = ", ".join(f"gen{i}={v}" for i, v in enumerate(self.values) if v is not None)
        return f"gcpause.thresholds({args})"


class Budget(_Scope):
    """See :func:`budget`.  One entry at a time; reusable after exit (results reset)."""

    _kind = _BUDGET

    def __init__(self, objects: int, collect: int | None = None) -> None:
        self.objects = _check_int(objects, "objects", 1, THRESHOLD_MAX)
        super().__init__(collect)
        self._req: _Request | None = None  # of the current or last entry
        self._registered = False

    def _copy(self) -> Budget:
        return Budget(self.objects, None if self._collect < 0 else self._collect)

    def __enter__(self) -> Budget:
        if 0 in self._reqs:
            raise RuntimeError("this budget() is already active; use a new one to nest")
        req = _Request(_BUDGET, objects=self.objects)
        registered = _enter(req)
        self._req, self._registered = req, registered
        self._reqs[0] = [req]  # marks the scope active (inert entries too)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        req = self._req
        if req is None or 0 not in self._reqs:
            raise RuntimeError("budget: __exit__ without a matching __enter__")
        del self._reqs[0]
        if self._registered:
            self._registered = False
            if gc.get_count()[0] > req.gen0:
                req.exceeded = True  # past the budget with no collection (yet)
            _leave(req, self._collect)

    async def __aenter__(self) -> Budget:
        return self.__enter__()

    @property
    def exceeded(self) -> bool:
        """True once more than about ``objects`` net new container objects were allocated
        in the interpreter since entry (a collection started past the budget, or the
        counter was past it at exit).  Live inside the block, final after it."""
        return self._req is not None and self._req.exceeded

    @property
    def collections(self) -> tuple[int, int, int]:
        """Collections (automatic or explicit, any thread) that finished inside the scope,
        per generation as CPython reported them."""
        c = self._req.counts if self._req is not None else [0, 0, 0]
        return (c[0], c[1], c[2])

    def __repr__(self) -> str:
        extra = "" if self._collect < 0 else f", collect={self._collect}"
        return (f"<gcpause.budget({self.objects}{extra}) exceeded={self.exceeded} "
                f"collections={self.collections}>")


def paused(collect: int | None = None) -> Paused:
    """No automatic collection inside the block, whatever code inside does with
    ``gc.enable()``/``gc.disable()``.

    Context manager (``with``/``async with``) and decorator (``@paused()``, sync or
    ``async def``).  Inside, the GC is disabled and every threshold is 2**31 - 1;
    ``gcpause.collect()`` and ``gc.collect()`` still work.  When the last active scope
    (any kind, any thread) exits, even by an exception, the enabled flag and thresholds
    saved by the first one are restored exactly, then ``gc.collect(collect)`` runs if
    ``collect`` is 0, 1 or 2 (requests of scopes that left earlier are merged: the
    oldest generation wins).  TypeError/ValueError naming ``collect`` on bad input.
    """
    return Paused(collect)


def young_only(collect: int | None = None) -> YoungOnly:
    """Young collections go on, older generations wait until the last scope exits.

    Generational CPython: thresholds become ``(t0, 2**31 - 1, 2**31 - 1)`` with ``t0`` the
    threshold0 in effect (the interpreter default if it was 0) and the GC enabled, so every
    automatic collection is generation 0.  Incremental 3.14.0-3.14.4: automatic runs stay
    increments with the smallest old-space share.  Free-threaded: collections are whole-heap
    whatever the thresholds, so only threshold0 is kept non-zero.  Restore and ``collect``
    as for :func:`paused`.
    """
    return YoungOnly(collect)


def budget(objects: int, collect: int | None = None) -> Budget:
    """A no-GC region with an allocation budget (.NET's TryStartNoGCRegion).

    No automatic collection until about ``objects`` net new container objects have been
    allocated in the interpreter (threshold0 = the current count + ``objects``, older
    generations out of reach, GC enabled); past that, young collections may run so memory
    stays bounded.  Afterwards ``.exceeded`` (bool) and ``.collections`` (per generation)
    report what happened.  ``objects`` is an int in 1..2**31 - 1.  Restore and ``collect``
    as for :func:`paused`.
    """
    return Budget(objects, collect)


def thresholds(gen0: int, gen1: int | None = None, gen2: int | None = None) -> Thresholds:
    """Scoped ``gc.set_threshold``; ``None`` keeps the value in effect.  Values are ints in
    0..2**31 - 1.  Two threads asking for different values of the same threshold at the same
    time get RuntimeError at entry (nothing changed); within one thread the innermost wins.
    paused()/budget()/young_only() active at the same time override it as documented."""
    return Thresholds(gen0, gen1, gen2)


# -- one-shot operations ---------------------------------------------------------------

def collect(generation: int = 2) -> Pause:
    """Run ``gc.collect(generation)`` now and return the :class:`gcpause.Pause` of it.

    Timed by the recorder's C callbacks (a private Recorder window; the global recording is
    not disturbed), so the figures match ``gcpause.records()``.  Works inside paused().  If
    no collection ran (one was already running) or no recorder window can be opened, the
    Pause is timed around the call and reports what ``gc.collect`` returned as collected.
    ``generation`` must be an int 0..2 (TypeError/ValueError).
    """
    g = _check_int(generation, "generation", 0, 2)
    from . import Recorder  # noqa: PLC0415 - gcpause is imported by now; avoids a cycle

    me = threading.get_ident()
    rec = Recorder(16)
    try:
        rec.__enter__()
        opened = True
    except RuntimeError:  # no recorder here (3.9 sub-interpreter): time around the call
        opened = False
    try:
        t0 = time.monotonic_ns()
        n = gc.collect(g)
        t1 = time.monotonic_ns()
    finally:
        if opened:
            rec.__exit__(None, None, None)
    mine = [p for p in rec.pauses if p.thread_id == me] if opened else []
    for p in reversed(mine):
        if p.generation == g:
            return p
    if mine:
        return mine[-1]
    return Pause(g, t0, t1 - t0, n, 0, me)


class FreezeResult:
    """What :func:`freeze` did: ``frozen`` objects moved to the permanent generation,
    ``duration_ns`` for collection plus freeze, ``pause`` the full collection's Pause,
    ``total_frozen`` = ``gc.get_freeze_count()`` afterwards."""

    __slots__ = ("frozen", "duration_ns", "pause", "total_frozen")
    frozen: int
    duration_ns: int
    pause: Pause
    total_frozen: int

    def __init__(self, frozen: int, duration_ns: int, pause: Pause, total_frozen: int) -> None:
        for k, v in zip(self.__slots__, (frozen, duration_ns, pause, total_frozen)):
            object.__setattr__(self, k, v)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("FreezeResult is immutable")

    def __repr__(self) -> str:
        return (f"FreezeResult(frozen={self.frozen}, duration_ns={self.duration_ns}, "
                f"total_frozen={self.total_frozen})")


def freeze() -> FreezeResult:
    """Collect everything, then ``gc.freeze()``: survivors move to the permanent generation
    and no later collection scans them.  For the end of start-up (Lambda INIT, before a
    SnapStart snapshot, before ``fork``).  Undo with ``gc.unfreeze()``."""
    t0 = time.monotonic_ns()
    before = gc.get_freeze_count()
    pause = collect(2)
    gc.freeze()
    t1 = time.monotonic_ns()
    total = gc.get_freeze_count()
    return FreezeResult(total - before, t1 - t0, pause, total)
