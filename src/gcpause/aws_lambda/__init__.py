"""AWS Lambda integration: per-invocation GC control and CloudWatch metrics.

::

    from gcpause import aws_lambda          # first import of the handler module: INIT figures
    ...                                     # imports, clients, caches
    aws_lambda.init_done()                  # collect + freeze at the end of INIT

    @aws_lambda.handler(mode="paused", collect="auto")
    def lambda_handler(event, context):
        ...

Invariants kept here:

- Importing this module opens a recorder window for INIT (collections from now until
  ``init_done()`` or the first invocation), and under SnapStart
  (``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``) registers a before-snapshot hook that
  collects and freezes, and an after-restore hook that resets gcpause's per-environment
  state.  Nothing else happens at import.
- All configuration is validated when ``handler`` is applied (INIT): a bad argument or
  ``GCPAUSE_*`` variable raises TypeError/ValueError there, never at an invocation.
- During an invocation the GC state is managed by one gcpause.control scope, which restores
  the enabled flag and thresholds exactly on exit, also when the handler raises; the
  handler's exception propagates unchanged.  The end-of-invocation collection runs after
  that restore, timed separately from the invocation's own collections.
- Reporting never fails an invocation: an error while writing metrics is one line on
  stderr.  One invocation at a time per process (Lambda's model; each Managed Instances
  worker is its own process).
"""

from __future__ import annotations

import functools
import gc
import inspect
import os
import sys
import threading

from .. import Recorder
from ..control import FreezeResult, budget, paused, young_only
from ..control import collect as _collect
from ..control import freeze as _freeze
from ._config import (
    COLLECT_POLICIES,
    DEFAULT_AUTO_OBJECTS,
    DEFAULT_BUDGET,
    DEFAULT_NAMESPACE,
    MODES,
    REPORTS,
    Config,
)
from ._report import (
    METRICS,
    PROPERTIES,
    Init,
    Invocation,
    Window,
    check_dimensions,
    emf_line,
    to_powertools,
    write_emf,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Callable, TypeVar, overload

    from .._recording import Pause
    from ._extension import Extension

    F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "COLLECT_POLICIES",
    "DEFAULT_AUTO_OBJECTS",
    "DEFAULT_BUDGET",
    "DEFAULT_NAMESPACE",
    "METRICS",
    "MODES",
    "PROPERTIES",
    "REPORTS",
    "Config",
    "Init",
    "Invocation",
    "Window",
    "emf_line",
    "handler",
    "init_done",
    "last_invocation",
]

#: Bounded wait, at the start of an invocation, for a post-response collection still
#: running (Lambda itself never starts an invocation before the extension's next call).
_IDLE_TIMEOUT_S = 30.0


def _gc_totals() -> tuple[int, int]:
    """(objects collected by every collection so far, full collections so far)."""
    st = gc.get_stats()
    return sum(int(g.get("collected", 0)) for g in st), int(st[-1].get("collections", 0))


class _Pending:
    """The ``collect="auto"`` measure: net container objects allocated by invocations since
    the last full collection, minus the objects any collection has freed since.

    Per invocation, net allocations = ``count0`` at the end minus ``count0`` at the start
    (``gc.get_count()``; read inside the scope, before the thresholds are restored), plus
    ``threshold0`` for each young collection inside the invocation (each one reset
    ``count0`` after about that many).  Exact under ``mode="paused"``, an estimate in the
    other modes, rough on 3.14.0-3.14.4 (incremental) and free-threaded builds.  Objects
    freed by collections (``gc.get_stats()`` "collected", also between invocations) are
    subtracted; any full collection, ours or not, resets the sum.
    """

    def __init__(self) -> None:
        self.carried = 0
        self.collected, self.full = _gc_totals()

    def update(self, growth: int) -> int:
        collected, full = _gc_totals()
        if full != self.full:
            self.carried = 0
        value = max(0, self.carried + growth - (collected - self.collected))
        self.carried, self.collected, self.full = value, collected, full
        return value

    def reset(self) -> None:
        self.carried = 0
        self.collected, self.full = _gc_totals()


class _State:
    """Per-process (per execution environment) state."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cold = True
        self.init_type = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") or "on-demand"
        self.init_rec: Recorder | None = None
        self.init_window: Window | None = None
        self.init_freeze: FreezeResult | None = None
        self.extension: Extension | None = None
        self.deferred: tuple[str | None, Pause] | None = None  # post-response, unreported
        self.pending = _Pending()
        self.last: Invocation | None = None

    def open_init(self) -> None:
        rec = Recorder(1)
        rec.__enter__()
        self.init_rec = rec

    def close_init(self) -> None:
        rec, self.init_rec = self.init_rec, None
        if rec is not None:
            rec.__exit__(None, None, None)
            self.init_window = Window(rec.stats)


_state = _State()


def _deferred_done(request_id: str | None, pause: Pause) -> None:
    with _state.lock:
        _state.deferred = (request_id, pause)


def init_done(freeze: bool = True) -> FreezeResult | None:
    """Mark the end of INIT: close the INIT recording window, then (``freeze=True``)
    collect everything and ``gc.freeze()`` so later full collections skip the objects
    created during start-up.  Call it at the end of the handler module.  Its figures are
    reported with the first invocation (``GcInit*`` metrics).  Returns the
    :class:`gcpause.control.FreezeResult`, or None with ``freeze=False``.  Calling it again
    collects and freezes again (the INIT figures stay those of the first call).  Under
    SnapStart the before-snapshot hook does the same once more, just before the snapshot.
    Undo a freeze with ``gc.unfreeze()``."""
    if not isinstance(freeze, bool):
        raise TypeError(f"freeze must be a bool, not {type(freeze).__name__}")
    with _state.lock:
        _state.close_init()
    if not freeze:
        return None
    result = _freeze()
    with _state.lock:
        _state.init_freeze = result
    return result


def _before_snapshot() -> None:
    init_done(True)


def _after_restore() -> None:
    # A restored environment is a new one: its first invocation is a cold start, and INIT
    # figures start again at the restore (the snapshot's INIT ran elsewhere, once).
    # The recorder's CPU counter need not run on from the snapshot: map it afresh.
    from .. import IMPLEMENTATION
    if IMPLEMENTATION == "c":
        from .. import _core
        _core.recalibrate()
    with _state.lock:
        if _state.init_rec is not None:
            _state.init_rec.__exit__(None, None, None)
        _state.cold = True
        _state.init_type = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") or "snap-start"
        _state.init_window = None
        _state.init_freeze = None
        _state.deferred = None
        _state.last = None
        _state.open_init()


def _register_snapstart_hooks() -> bool:
    """Under SnapStart, hook into snapshot_restore_py (bundled with the runtime and an
    awslambdaric dependency).  Registered at import, before the user's hooks: before-snapshot
    hooks run in reverse order, so ours runs last, after the user's warm-up code."""
    if _state.init_type != "snap-start":
        return False
    raw = os.environ.get("GCPAUSE_SNAPSTART_HOOKS", "1").strip().lower()
    if raw in ("0", "false", "no", "off"):
        return False
    if raw not in ("1", "true", "yes", "on", ""):
        raise ValueError(f"GCPAUSE_SNAPSTART_HOOKS={raw!r} is not a boolean (use 1/0)")
    try:
        import snapshot_restore_py  # type: ignore[import-untyped]
    except ImportError:
        return False
    snapshot_restore_py.register_before_snapshot(_before_snapshot)
    snapshot_restore_py.register_after_restore(_after_restore)
    return True


def last_invocation() -> Invocation | None:
    """The figures of the most recent invocation in this process (None before the first)."""
    return _state.last


def _start_extension(config: Config) -> Extension | None:
    if not config.post_response:
        return None
    with _state.lock:
        if _state.extension is not None:
            return _state.extension
        api = os.environ.get("AWS_LAMBDA_RUNTIME_API")
        if not api:
            return None  # not in Lambda (local tests): collect inline
        # http.client costs ~15 ms of (billed) INIT: imported only when asked for.
        from ._extension import Extension, hook_runtime_client

        ext = Extension(api, lambda: _collect(2), _deferred_done)
        ext.hooked = hook_runtime_client(ext.posted.set)
        _state.extension = ext
        return ext


def _scope(config: Config) -> Any:
    if config.mode == "paused":
        return paused()
    if config.mode == "young_only":
        return young_only()
    if config.mode == "budget":
        return budget(config.budget)
    return None


def _report(inv: Invocation, config: Config) -> None:
    try:
        if config.report == "emf":
            write_emf(inv, config)
        elif config.report == "powertools":
            to_powertools(inv, config)
    except Exception as exc:  # noqa: BLE001 - metrics must not fail the invocation
        try:
            sys.stderr.write(f"gcpause.aws_lambda: could not report metrics: "
                             f"{type(exc).__name__}: {exc}\n")
        except Exception:  # noqa: BLE001, S110 - nowhere left to report to
            pass


def _invoke(config: Config, func: Callable[..., Any], event: Any, context: Any) -> Any:
    st = _state
    ext = st.extension if (st.extension is not None and st.extension.alive) else None
    if ext is not None:
        ext.wait_idle(_IDLE_TIMEOUT_S)
    init: Init | None = None
    with st.lock:
        cold, st.cold = st.cold, False
        if cold:
            st.close_init()
            init = Init(st.init_window or Window(), st.init_freeze, st.init_type)
    request_id = getattr(context, "aws_request_id", None)
    if request_id is not None and not isinstance(request_id, str):
        request_id = str(request_id)
    scope = _scope(config)
    threshold0 = gc.get_threshold()[0]  # the scope may raise it to 2**31 - 1
    rec = Recorder(1)
    error = True
    count0_end = count0_start = gc.get_count()[0]
    rec.__enter__()
    try:
        if scope is not None:
            scope.__enter__()
        try:
            result = func(event, context)
            error = False
        finally:
            # Read before the scope restores the thresholds: the young collection those
            # may trigger at once resets count0.
            count0_end = gc.get_count()[0]
            if scope is not None:
                scope.__exit__(None, None, None)
        return result
    finally:
        rec.__exit__(None, None, None)
        window = Window(rec.stats)
        young = window.collections[0] + window.collections[1]
        pending = st.pending.update(count0_end - count0_start + young * max(threshold0, 1))
        want = config.collect == "always" or (
            config.collect == "auto" and pending >= config.auto_objects)
        end: Pause | None = None
        end_rid: str | None = None
        deferred = False
        if ext is not None and ext.alive:
            with st.lock:
                prev, st.deferred = st.deferred, None
            if prev is not None:
                end_rid, end = prev
            ext.submit(request_id, want)
            deferred = want
        elif want:
            end, end_rid = _collect(2), request_id
            st.pending.reset()
        inv = Invocation(request_id, cold, error, config.mode, config.collect, window,
                         pending, end, end_rid, deferred,
                         None if config.mode != "budget" else scope.exceeded, init)
        st.last = inv
        _report(inv, config)


if TYPE_CHECKING:
    @overload
    def handler(func: F, /) -> F: ...

    @overload
    def handler(func: None = None, /, *, mode: str | None = None, collect: str | None = None,
                budget: int | None = None, auto_objects: int | None = None,
                report: str | None = None, metrics: Any = None,
                namespace: str | None = None, dimensions: Mapping[str, str] | None = None,
                resolution: int | None = None,
                post_response: bool | None = None) -> Callable[[F], F]: ...


def handler(func: Any = None, /, *, mode: str | None = None, collect: str | None = None,
            budget: int | None = None, auto_objects: int | None = None,
            report: str | None = None, metrics: Any = None, namespace: str | None = None,
            dimensions: Mapping[str, str] | None = None, resolution: int | None = None,
            post_response: bool | None = None) -> Any:
    """Decorate a Lambda handler ``handler(event, context)``; ``@handler`` or
    ``@handler(...)``.

    Each argument left out (None) comes from its ``GCPAUSE_*`` environment variable, else
    the default; every value is checked now, at INIT (TypeError/ValueError naming the
    argument or the variable):

    - ``mode`` (``GCPAUSE_MODE``): ``"paused"`` (default; no automatic collection during
      the invocation), ``"young_only"``, ``"budget"`` (``budget`` objects, see
      gcpause.budget; ``GCPAUSE_BUDGET``, default 100,000) or ``"off"`` (measure only).
    - ``collect`` (``GCPAUSE_COLLECT``): end-of-invocation full collection, ``"always"``,
      ``"auto"`` (default: only when the net container objects allocated by invocations
      since the last full collection, less those freed since, reach ``auto_objects``,
      ``GCPAUSE_AUTO_OBJECTS``, default 50,000) or ``"never"``.
    - ``report`` (``GCPAUSE_REPORT``): ``"emf"`` (default: one CloudWatch EMF line on
      stdout per invocation), ``"powertools"`` (default when ``metrics`` is given: add the
      metrics to that aws_lambda_powertools ``Metrics``; put ``@metrics.log_metrics``
      above this decorator) or ``"none"``.  ``namespace`` (``GCPAUSE_NAMESPACE``, default
      "GcPause"), ``dimensions`` (``GCPAUSE_DIMENSIONS="k=v,k2=v2"``, default
      ``function_name``) and ``resolution`` (60 or 1; ``GCPAUSE_RESOLUTION``) shape EMF.
    - ``post_response`` (``GCPAUSE_POST_RESPONSE``, default False): run the end collection
      in an internal Lambda extension thread after the response is posted.

    The GC state is restored after every invocation, also when the handler raises; the
    exception propagates unchanged.  ``last_invocation()`` returns the figures reported.
    """
    config = Config(mode=mode, collect=collect, budget=budget, auto_objects=auto_objects,
                    report=report, metrics=metrics, namespace=namespace,
                    dimensions=dimensions, resolution=resolution, post_response=post_response)
    if config.report == "emf":
        check_dimensions(config.dimensions)

    def decorate(f: F) -> F:
        if not callable(f):
            raise TypeError(f"handler must decorate a callable, not {type(f).__name__}")
        if inspect.iscoroutinefunction(f) or inspect.isgeneratorfunction(f):
            raise TypeError("handler must decorate a plain function handler(event, context); "
                            "Lambda's Python runtime does not await coroutines")
        _start_extension(config)

        @functools.wraps(f)
        def wrapper(event: Any, context: Any) -> Any:
            return _invoke(config, f, event, context)

        wrapper.gcpause_config = config  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    if func is None:
        return decorate
    if isinstance(func, (str, int, dict)):
        raise TypeError(f"handler takes keyword arguments only (e.g. handler(mode='paused')), "
                        f"not a positional {type(func).__name__}")
    return decorate(func)


_state.open_init()
_register_snapstart_hooks()
