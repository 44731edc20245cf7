"""Pure-Python twin of ``gcpause._core``: same functions, same raw results.

It is the fallback when the C extension cannot load, the oracle the tests
compare the C recorder against, and the baseline in ``benchmarks/``.  The
placement logic (``[H]`` alone, ``[H, ..., P]`` beside other callbacks, repair
from the stop phase) mirrors ``csrc/module.c``; see the comments there.
"""

from __future__ import annotations

import gc
import os
import sys
from _thread import RLock, get_ident
from time import monotonic_ns as _clock
from time import sleep as _sleep

from . import _hist

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    RawRecord = tuple[int, int, int, int, int, int, "int | None",
                      "tuple[str, int, str] | None"]

HIST_SUB_BITS = _hist.SUB_BITS
HIST_MAX_BITS = _hist.MAX_BITS
HIST_BUCKETS = _hist.BUCKETS
RING_MAX = 1 << 22
_REPAIR_BACKOFF_MAX = 1024
_REPAIR_STREAK = 4
_N_ANOM = 4
_UNPAIRED_START, _UNPAIRED_STOP, _BAD_INFO, _REPAIR_FAILED = range(_N_ANOM)
_OPEN = -1


class _Agg:
    __slots__ = ("count", "total_ns", "max_ns", "collected", "uncollectable", "hist")

    def __init__(self) -> None:
        self.count = self.total_ns = self.max_ns = 0
        self.collected = self.uncollectable = 0
        self.hist: dict[int, int] = {}

    def add(self, dur: int, collected: int, uncollectable: int, bucket: int) -> None:
        self.count += 1
        self.total_ns += dur
        if dur > self.max_ns:
            self.max_ns = dur
        self.collected += collected
        self.uncollectable += uncollectable
        self.hist[bucket] = self.hist.get(bucket, 0) + 1

    def raw(self) -> tuple[Any, ...]:
        return (self.count, self.total_ns, self.max_ns, self.collected,
                self.uncollectable, sorted(self.hist.items()))


class _Window:
    __slots__ = ("id", "origin_ns", "end_ns", "first_seq", "end_seq", "anom_base",
                 "anom_end", "repairs_base", "repairs_end", "slots", "sites")

    def __init__(self, wid: int) -> None:
        self.id = wid
        self.origin_ns = self.end_ns = 0
        self.first_seq = 0
        self.end_seq = _OPEN
        self.anom_base = [0] * _N_ANOM
        self.anom_end = [0] * _N_ANOM
        self.repairs_base = self.repairs_end = 0
        self.slots = [_Agg() for _ in range(4)]
        self.sites = False

    def restart(self) -> None:
        self.slots = [_Agg() for _ in range(4)]
        self.origin_ns = _clock()
        self.end_ns = 0
        self.first_seq = _st.next_seq
        self.end_seq = _OPEN
        self.anom_base = list(_st.anom)
        self.anom_end = [0] * _N_ANOM
        self.repairs_base = _st.repairs
        self.repairs_end = 0

    def close(self) -> None:
        self.end_ns = _clock()
        self.end_seq = _st.next_seq
        self.anom_end = list(_st.anom)
        self.repairs_end = _st.repairs


class _State:
    def __init__(self) -> None:
        self.callbacks: list[Any] = gc.callbacks
        self.installed = False
        self.explicit_on = False
        self.implicit_users = 0
        self.pending = False
        self.t_start = 0
        self.pending_site: tuple[str, int, str] | None = None
        self.sites_explicit = False
        self.sites_windows = 0
        self.start_info: object = None
        self.stop_info: object = None
        self.repair_allowed_seq = 0
        self.last_repair_seq = 0
        self.repair_backoff = 0
        self.repair_streak = 0
        self.repairs = 0
        self.anom = [0] * _N_ANOM
        # While a snapshot copies the windows, collections (which its own
        # allocations can trigger) queue their aggregate updates here.
        self.copying = False
        self.in_hook = False
        self.deferred: list[tuple[int, int, int, int, int, int]] = []
        self.ring: list[tuple[int, RawRecord] | None] = []
        self.ring_size = 0
        self.next_seq = 0
        self.global_w: _Window | None = None
        self.active: list[_Window] = []
        self.next_window_id = 0


_st = _State()
_snapshot_lock = RLock()


def _hook(which: int, phase: str, info: dict[str, Any]) -> None:
    st = _st
    if not st.installed:
        return
    cbs = st.callbacks
    me = _HOOKS[which]
    if phase == "start":
        if len(cbs) > 2 and cbs[0] is me and cbs[-1] is _HOOKS[1 - which]:
            return
        if st.pending and info is not st.start_info:
            st.anom[_UNPAIRED_START] += 1
        st.pending = True
        st.start_info = info
        st.stop_info = None
        if st.sites_explicit or st.sites_windows:
            # Frames: 0 _hook, 1 _hook_a/_hook_b, 2 the code that triggered it
            # (absent when a collection runs with no Python code on the stack).
            try:
                f = sys._getframe(2)
            except ValueError:
                st.pending_site = None
            else:
                code = f.f_code
                st.pending_site = (code.co_filename, f.f_lineno,
                                   getattr(code, "co_qualname", code.co_name))
        st.t_start = _clock()
        return
    t_stop = _clock()
    if not st.pending:
        if info is not st.stop_info:
            st.anom[_UNPAIRED_STOP] += 1
        return
    st.pending = False
    st.stop_info = info
    _record_stop(info, t_stop)
    if not _placement_ok(me):
        seq = st.next_seq
        if seq >= st.repair_allowed_seq:
            if seq - st.last_repair_seq <= st.repair_backoff + 1:
                st.repair_streak += 1
            else:
                st.repair_streak = 1
            extra = st.repair_streak - _REPAIR_STREAK
            st.repair_backoff = 1 if extra <= 0 else min(1 << min(extra, 10),
                                                         _REPAIR_BACKOFF_MAX)
            st.last_repair_seq = seq
            st.repair_allowed_seq = seq + st.repair_backoff
            _placement_repair(me)


def _hook_a(*args: Any) -> None:
    if len(args) == 2 and type(args[0]) is str and type(args[1]) is dict:
        _hook(0, *args)
    elif _st.installed:
        _st.anom[_BAD_INFO] += 1


def _hook_b(*args: Any) -> None:
    if len(args) == 2 and type(args[0]) is str and type(args[1]) is dict:
        _hook(1, *args)
    elif _st.installed:
        _st.anom[_BAD_INFO] += 1


_HOOKS = (_hook_a, _hook_b)


def _info_int(info: dict[str, Any], key: str) -> int | None:
    v = info.get(key)
    return v if type(v) is int else None


def _record_stop(info: dict[str, Any], t_stop: int) -> None:
    st = _st
    dur = max(0, t_stop - st.t_start)
    gen = _info_int(info, "generation")
    collected = _info_int(info, "collected")
    uncollectable = _info_int(info, "uncollectable")
    d = info.get("duration")
    cpy = int(d * 1e9 + 0.5) if type(d) is float and 0.0 <= d < 1e9 else None
    slot = gen if gen is not None and 0 <= gen <= 2 else -1
    if gen is None or collected is None or uncollectable is None or slot < 0:
        st.anom[_BAD_INFO] += 1
    gen = -1 if gen is None else gen
    collected = collected or 0
    uncollectable = uncollectable or 0
    bucket = _hist.index(dur)
    # Announce first, then publish and look: a snapshot or a closing window
    # sets `copying` first, then waits for `in_hook` to drop, so one of the
    # two always sees the other, and a sequence number a window has counted
    # in (next_seq) is always aggregated or queued by the time it looks.
    st.in_hook = True
    try:
        seq = st.next_seq
        st.ring[seq % st.ring_size] = (
            seq, (gen, st.t_start, dur, collected, uncollectable, get_ident(), cpy,
                  st.pending_site))
        st.pending_site = None
        st.next_seq = seq + 1
        if st.copying:
            st.deferred.append((seq, slot, dur, collected, uncollectable, bucket))
        else:
            _drain()
            _aggregate(seq, slot, dur, collected, uncollectable, bucket)
    finally:
        st.in_hook = False


def _drain() -> None:
    deferred = _st.deferred
    while deferred:
        _aggregate(*deferred.pop(0))


def _aggregate(seq: int, slot: int, dur: int, collected: int, uncollectable: int,
               bucket: int) -> None:
    for w in _st.active:
        if seq < w.first_seq or (w.end_seq != _OPEN and seq >= w.end_seq):
            continue  # queued before this window opened, or after it closed
        if slot >= 0:
            w.slots[slot].add(dur, collected, uncollectable, bucket)
        w.slots[3].add(dur, collected, uncollectable, bucket)


def _is_ours(o: object) -> bool:
    return o is _hook_a or o is _hook_b


def _placement_ok(me: object) -> bool:
    cbs = _st.callbacks
    n = len(cbs)
    if n == 0 or cbs[0] is not me:
        return False
    if n == 1:
        return True
    return n > 2 and cbs[-1] is not me and _is_ours(cbs[-1])


def _placement_repair(me: Callable[[str, dict[str, Any]], None]) -> None:
    st = _st
    cbs = st.callbacks
    partner = _hook_b if me is _hook_a else _hook_a
    pos = -1
    ours = 0
    n = len(cbs)
    for j, o in enumerate(cbs):
        if o is me and pos < 0:
            pos = j
        elif _is_ours(o) and pos < 0:
            return
        ours += _is_ours(o)
    if pos < 0:
        return
    try:
        for j in range(len(cbs) - 1, pos, -1):
            if _is_ours(cbs[j]):
                del cbs[j]
        if ours == n:
            del cbs[:pos]
        else:
            if pos > 0:
                del cbs[pos]
                cbs.insert(0, me)
            cbs.append(partner)
    except MemoryError:
        st.anom[_REPAIR_FAILED] += 1
        return
    st.repairs += 1


def _install() -> None:
    st = _st
    if st.installed:
        return
    if not st.callbacks:
        st.callbacks.append(_hook_a)
    else:
        st.callbacks.insert(0, _hook_a)
        st.callbacks.append(_hook_b)
    st.pending = False
    st.start_info = st.stop_info = None
    st.repair_backoff = st.repair_streak = st.repair_allowed_seq = st.last_repair_seq = 0
    st.installed = True


def _uninstall() -> None:
    st = _st
    if not st.installed:
        return
    st.installed = False
    st.pending = False
    st.pending_site = None
    st.callbacks[:] = [o for o in st.callbacks if not _is_ours(o)]


def _parse_ring_size(ring_size: object) -> int:
    if type(ring_size) is bool or not isinstance(ring_size, int):
        raise TypeError(f"ring_size must be an int, not {type(ring_size).__name__}")
    if not 1 <= ring_size <= RING_MAX:
        raise ValueError(f"ring_size must be between 1 and {RING_MAX}, got {ring_size!r}")
    return int(ring_size)


def _ring_alloc(size: int) -> None:
    st = _st
    ring: list[tuple[int, RawRecord] | None] = [None] * size
    for item in st.ring:
        if item is not None and item[0] >= st.next_seq - size:
            ring[item[0] % size] = item
    st.ring = ring
    st.ring_size = size


def _check_interpreter() -> None:
    if sys.version_info < (3, 10):
        try:
            import _xxsubinterpreters as xx  # noqa: PLC0415 - only on 3.9

            if xx.get_current() != xx.get_main():
                raise RuntimeError(
                    "gcpause cannot record in a sub-interpreter on Python 3.9 (its "
                    "gc.callbacks is the main interpreter's list); use Python 3.10 or newer")
        except ImportError:
            pass


def _acquire(size: int, explicit: bool) -> None:
    st = _st
    _check_interpreter()
    if not st.ring:
        _ring_alloc(size)
    elif explicit and st.ring_size != size:
        if st.explicit_on:
            raise ValueError(f"already recording with ring_size={st.ring_size}; "
                             f"stop() first to use ring_size={size}")
        _ring_alloc(size)
    _install()


def _release_if_unused() -> None:
    if not _st.explicit_on and _st.implicit_users == 0:
        _uninstall()


def _ring_oldest() -> int:
    st = _st
    if not st.ring:
        return st.next_seq
    return max(0, st.next_seq - st.ring_size)


def _end_seq(w: _Window) -> int:
    return _st.next_seq if w.end_seq == _OPEN else w.end_seq


def _settle() -> None:
    """With `copying` set: wait for the callback in progress on another thread (if
    any), then apply the queued updates."""
    while _st.in_hook:
        _sleep(0)
    _drain()


class _Quiet:
    """Hold the windows still: while inside, callbacks queue their aggregate
    updates instead of applying them (the in_hook/copying handshake), and the
    queue is applied on the way in and out.  One holder at a time; the GC
    callback never takes the lock.  The queue so has one consumer at a time: a
    callback drains it only while nothing holds it, a holder only after the
    callback in progress has finished."""

    def __enter__(self) -> None:
        _snapshot_lock.acquire()
        _st.copying = True
        _settle()

    def __exit__(self, *exc: object) -> None:
        try:
            _settle()
        finally:
            _st.copying = False
            _snapshot_lock.release()


def _snapshot(w: _Window) -> tuple[Any, ...]:
    # Copy while quiet so the copy is whole (the C twin copies its window before
    # allocating anything): collections that the copy's own allocations (or other
    # threads) run meanwhile queue their updates, applied after.
    with _Quiet():
        return _snapshot_unlocked(w)


def _snapshot_unlocked(w: _Window) -> tuple[Any, ...]:
    st = _st
    now = _clock()
    end_seq = _end_seq(w)
    oldest = _ring_oldest()
    overwritten = min(oldest, end_seq) - w.first_seq if oldest > w.first_seq else 0
    anom_now = w.anom_end if w.end_ns else st.anom
    repairs_now = w.repairs_end if w.end_ns else st.repairs
    return (w.origin_ns, w.end_ns, now, w.first_seq, end_seq, overwritten,
            tuple(a.raw() for a in w.slots),
            tuple(a - b for a, b in zip(anom_now, w.anom_base)),
            repairs_now - w.repairs_base)


def _records(first_seq: int, end_seq: int) -> list[RawRecord]:
    st = _st
    if not st.ring:
        return []
    lo = max(_ring_oldest(), first_seq)
    hi = min(end_seq, st.next_seq)
    out: list[RawRecord] = []
    for s in range(lo, hi):
        item = st.ring[s % st.ring_size]
        assert item is not None
        out.append(item[1])
    return out


# -- the functions of gcpause._core ------------------------------------------

def _parse_sites(sites: object) -> bool:
    if type(sites) is not bool:
        raise TypeError(f"sites must be a bool, not {type(sites).__name__}")
    return sites


def start(ring_size: int, sites: bool = False) -> None:
    st = _st
    size = _parse_ring_size(ring_size)
    want_sites = _parse_sites(sites)
    with _snapshot_lock:
        if st.explicit_on:
            if want_sites:
                st.sites_explicit = True
            if size != st.ring_size:
                raise ValueError(f"already recording with ring_size={st.ring_size}; "
                                 f"stop() first to use ring_size={size}")
            return
        _acquire(size, True)
        if st.global_w is None:
            st.global_w = _Window(0)
        with _Quiet():
            st.global_w.restart()
            st.active.append(st.global_w)
        st.explicit_on = True
        st.sites_explicit = want_sites


def stop() -> None:
    st = _st
    with _snapshot_lock:
        if st.explicit_on:
            assert st.global_w is not None
            with _Quiet():
                st.explicit_on = False
                st.sites_explicit = False
                st.global_w.close()
                _settle()  # collections numbered before the close, see close_window()
                st.active.remove(st.global_w)
            _release_if_unused()


def is_recording() -> bool:
    return _st.explicit_on


def reset() -> None:
    w = _st.global_w
    if w is not None:
        with _Quiet():
            w.restart()
            if not _st.explicit_on:
                w.close()
                w.end_ns = w.origin_ns


def total_pause_ns() -> int:
    w = _st.global_w
    return w.slots[3].total_ns if w is not None else 0


def snapshot() -> tuple[Any, ...]:
    w = _st.global_w
    if w is None:
        w = _Window(0)
        w.first_seq = w.end_seq = _st.next_seq
        w.origin_ns = w.end_ns = _clock()
    return _snapshot(w)


def records() -> list[RawRecord]:
    w = _st.global_w
    if w is None:
        return []
    return _records(w.first_seq, _end_seq(w))


def open_window(ring_size: int, sites: bool = False) -> int:
    st = _st
    size = _parse_ring_size(ring_size)
    want_sites = _parse_sites(sites)
    # The lock makes the bookkeeping (ids, user counts, installing the hooks)
    # atomic between threads, as one C call is.
    with _snapshot_lock:
        _acquire(size, False)
        st.next_window_id += 1
        w = _Window(st.next_window_id)
        st.implicit_users += 1
        w.sites = want_sites
        st.sites_windows += want_sites
        with _Quiet():
            # Collections from first_seq on queue their updates until w is active.
            w.restart()
            st.active.append(w)
    return w.id


def _window(wid: int) -> _Window:
    if not isinstance(wid, int):
        raise TypeError("window id must be an int")
    for w in _st.active:
        if w.id == wid and w is not _st.global_w:
            return w
    raise ValueError(f"no open window {wid}")


def window_snapshot(wid: int, /) -> tuple[Any, ...]:
    # Under the lock: another thread's close_window() may be editing `active`,
    # and iterating a list while an earlier item is removed skips one.
    with _snapshot_lock:
        return _snapshot(_window(wid))


def close_window(wid: int, /) -> tuple[tuple[Any, ...], list[RawRecord]]:
    st = _st
    with _snapshot_lock:
        w = _window(wid)
        with _Quiet():
            w.close()
            # A callback that took a sequence number below end_seq has finished or
            # queued its update once in_hook drops: apply the queue while w is still
            # active (entries from end_seq on skip it).
            _settle()
            st.active.remove(w)
        st.implicit_users -= 1
        st.sites_windows -= w.sites
        _release_if_unused()
    return _snapshot(w), _records(w.first_seq, w.end_seq)


def after_fork_child() -> None:
    global _snapshot_lock
    st = _st
    _snapshot_lock = RLock()   # another thread may have held it at fork
    st.copying = st.in_hook = False
    st.deferred.clear()
    st.pending = False
    for w in st.active:
        w.restart()
    if st.global_w is not None and not st.explicit_on:
        st.global_w.restart()
        st.global_w.close()
        st.global_w.end_ns = st.global_w.origin_ns


def hooks() -> tuple[Callable[[str, dict[str, Any]], None], ...]:
    return _HOOKS


def hist_index(ns: int, /) -> int:
    return _hist.index(ns)


def clock_ns() -> int:
    """The recorder's clock (``time.monotonic_ns``)."""
    return _clock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=after_fork_child)
