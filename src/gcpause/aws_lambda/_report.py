"""Per-invocation figures and their output: a CloudWatch EMF line or Powertools metrics.

EMF rules kept here ("Specification: Embedded metric format"): one JSON object per line
with ``_aws.Timestamp`` (epoch ms) and one ``CloudWatchMetrics`` directive; at most 100
metric definitions and 30 dimensions per set; every metric and dimension name is a member
of the root object; units come from CloudWatch's StandardUnit list (no nanoseconds: pause
times are sent in Microseconds); the request id is a property, never a dimension (one
metric stream per request would be useless and costly).  Stdlib ``json`` only.
"""

from __future__ import annotations

import json
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

    from .._recording import Pause, Stats
    from ..control import FreezeResult
    from ._config import Config

MAX_METRICS = 100

#: Names of the root members that are not metrics (EMF properties).
PROPERTIES = ("requestId", "gcMode", "gcCollect", "gcEnd", "gcEndRequestId", "error",
              "initType")

# (name, unit) of every metric gcpause may emit, in output order.
_GENS = (0, 1, 2)
METRICS: tuple[tuple[str, str], ...] = (
    ("GcCollections", "Count"),
    ("GcPauseTotal", "Microseconds"),
    ("GcPauseMax", "Microseconds"),
    ("GcObjectsCollected", "Count"),
    *((f"GcCollectionsGen{g}", "Count") for g in _GENS),
    *((f"GcPauseTotalGen{g}", "Microseconds") for g in _GENS),
    *((f"GcPauseMaxGen{g}", "Microseconds") for g in _GENS),
    ("GcPendingObjects", "Count"),
    ("GcEndCollections", "Count"),
    ("GcEndPause", "Microseconds"),
    ("GcEndObjectsCollected", "Count"),
    ("GcColdStart", "Count"),
    ("GcBudgetExceeded", "Count"),
    ("GcInitCollections", "Count"),
    ("GcInitPauseTotal", "Microseconds"),
    ("GcInitPauseMax", "Microseconds"),
    ("GcInitFreezePause", "Microseconds"),
    ("GcInitFrozenObjects", "Count"),
)
UNITS = dict(METRICS)
assert len(METRICS) <= MAX_METRICS


class Window:
    """Collections in one recorder window, per generation (immutable)."""

    __slots__ = ("collected", "collections", "max_ns", "total_ns")
    collections: tuple[int, int, int]
    total_ns: tuple[int, int, int]
    max_ns: tuple[int, int, int]
    collected: int

    def __init__(self, stats: Stats | None = None) -> None:
        g = stats.generations if stats is not None else None
        s = object.__setattr__
        s(self, "collections", tuple(g[i].count for i in _GENS) if g else (0, 0, 0))
        s(self, "total_ns", tuple(g[i].total_ns for i in _GENS) if g else (0, 0, 0))
        s(self, "max_ns", tuple(g[i].max_ns for i in _GENS) if g else (0, 0, 0))
        s(self, "collected", stats.collected if stats is not None else 0)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Window is immutable")

    @property
    def count(self) -> int:
        """Collections of any generation."""
        return sum(self.collections)

    @property
    def pause_total_ns(self) -> int:
        return sum(self.total_ns)

    @property
    def pause_max_ns(self) -> int:
        return max(self.max_ns)

    def __repr__(self) -> str:
        return (f"Window(collections={self.collections}, total_ns={self.total_ns}, "
                f"max_ns={self.max_ns}, collected={self.collected})")


class Init:
    """GC during INIT, reported with the first invocation of an execution environment."""

    __slots__ = ("freeze", "init_type", "window")

    def __init__(self, window: Window, freeze: FreezeResult | None, init_type: str) -> None:
        #: Collections from the import of gcpause.aws_lambda (or the SnapStart restore) to
        #: init_done() or the first invocation, the freeze's own collection excluded.
        self.window = window
        #: What init_done() / the before-snapshot hook did, or None.
        self.freeze = freeze
        #: AWS_LAMBDA_INITIALIZATION_TYPE ("on-demand", "snap-start", ...).
        self.init_type = init_type

    def __repr__(self) -> str:
        return f"Init(window={self.window!r}, freeze={self.freeze!r}, init_type={self.init_type!r})"


class Invocation:
    """What gcpause saw during one invocation; see docs/aws_lambda.md for each field."""

    __slots__ = (
        "budget_exceeded",
        "cold_start",
        "collect",
        "end",
        "end_deferred",
        "end_request_id",
        "error",
        "init",
        "mode",
        "pending_objects",
        "request_id",
        "window",
    )

    def __init__(self, request_id: str | None, cold_start: bool, error: bool, mode: str,
                 collect: str, window: Window, pending_objects: int, end: Pause | None,
                 end_request_id: str | None, end_deferred: bool,
                 budget_exceeded: bool | None, init: Init | None) -> None:
        self.request_id = request_id
        self.cold_start = cold_start
        self.error = error
        self.mode = mode
        self.collect = collect
        self.window = window
        self.pending_objects = pending_objects
        self.end = end
        self.end_request_id = end_request_id
        self.end_deferred = end_deferred
        self.budget_exceeded = budget_exceeded
        self.init = init

    def __repr__(self) -> str:
        return ("Invocation(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__)
                + ")")

    def metrics(self) -> list[tuple[str, str, float]]:
        """``(name, unit, value)`` for every metric of this invocation, in METRICS order."""
        w = self.window
        values: dict[str, float] = {
            "GcCollections": w.count,
            "GcPauseTotal": w.pause_total_ns / 1e3,
            "GcPauseMax": w.pause_max_ns / 1e3,
            "GcObjectsCollected": w.collected,
            "GcPendingObjects": self.pending_objects,
            "GcEndCollections": 0 if self.end is None else 1,
            "GcEndPause": 0.0 if self.end is None else self.end.duration_ns / 1e3,
            "GcEndObjectsCollected": 0 if self.end is None else self.end.collected,
            "GcColdStart": 1 if self.cold_start else 0,
        }
        for g in _GENS:
            values[f"GcCollectionsGen{g}"] = w.collections[g]
            values[f"GcPauseTotalGen{g}"] = w.total_ns[g] / 1e3
            values[f"GcPauseMaxGen{g}"] = w.max_ns[g] / 1e3
        if self.budget_exceeded is not None:
            values["GcBudgetExceeded"] = 1 if self.budget_exceeded else 0
        if self.init is not None:
            iw, fr = self.init.window, self.init.freeze
            values["GcInitCollections"] = iw.count
            values["GcInitPauseTotal"] = iw.pause_total_ns / 1e3
            values["GcInitPauseMax"] = iw.pause_max_ns / 1e3
            if fr is not None:
                values["GcInitFreezePause"] = fr.pause.duration_ns / 1e3
                values["GcInitFrozenObjects"] = fr.frozen
        return [(name, unit, values[name]) for name, unit in METRICS if name in values]

    def properties(self) -> dict[str, Any]:
        props: dict[str, Any] = {"requestId": self.request_id, "gcMode": self.mode,
                                 "gcCollect": self.collect,
                                 "gcEnd": ("deferred" if self.end_deferred else
                                           "inline" if self.end is not None
                                           and self.end_request_id == self.request_id
                                           else "none"),
                                 "error": self.error}
        if self.end is not None and self.end_request_id != self.request_id:
            props["gcEndRequestId"] = self.end_request_id
        if self.init is not None:
            props["initType"] = self.init.init_type
        return props


def check_dimensions(dimensions: tuple[tuple[str, str], ...]) -> None:
    """A dimension may not shadow a metric, a property or ``_aws`` in the root object."""
    for name, _ in dimensions:
        if name in UNITS or name in PROPERTIES or name == "_aws":
            raise ValueError(f"dimension name {name!r} clashes with a gcpause metric or "
                             f"property of the same name")


def emf_line(inv: Invocation, config: Config, timestamp_ms: int | None = None) -> str:
    """The invocation as one EMF JSON line (no trailing newline)."""
    metrics = inv.metrics()
    definitions: list[dict[str, Any]] = []
    for name, unit, _ in metrics:
        d: dict[str, Any] = {"Name": name, "Unit": unit}
        if config.resolution == 1:
            d["StorageResolution"] = 1
        definitions.append(d)
    root: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": config.namespace,
                "Dimensions": [[name for name, _ in config.dimensions]],
                "Metrics": definitions,
            }],
        },
    }
    root.update(config.dimensions)
    root.update(inv.properties())
    for name, _, value in metrics:
        root[name] = value
    return json.dumps(root, separators=(",", ":"), allow_nan=False)


def write_emf(inv: Invocation, config: Config, stream: TextIO | None = None) -> None:
    out = sys.stdout if stream is None else stream
    out.write(emf_line(inv, config) + "\n")
    out.flush()


def to_powertools(inv: Invocation, config: Config) -> None:
    """Add the invocation's metrics to the user's Powertools ``Metrics`` (its namespace and
    dimensions apply; it prints them when its ``log_metrics`` flushes)."""
    m = config.metrics
    for name, unit, value in inv.metrics():
        m.add_metric(name=name, unit=unit, value=value, resolution=config.resolution)
    add_metadata = getattr(m, "add_metadata", None)
    if callable(add_metadata) and inv.request_id is not None:
        add_metadata(key="requestId", value=inv.request_id)
