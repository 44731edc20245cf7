"""An independent checker of CloudWatch Embedded Metric Format objects.

Rules from "Specification: Embedded metric format" (lambda-and-wheels.md §6): a root object
with ``_aws`` = {``Timestamp`` (epoch ms, int), ``CloudWatchMetrics``: [directive, ...]};
a directive has ``Namespace`` (1-255 chars), ``Dimensions`` (a list of dimension sets, each
a list of at most 30 names) and ``Metrics`` (at most 100 definitions of ``Name``, optional
``Unit`` from CloudWatch's StandardUnit list, optional ``StorageResolution`` 1 or 60).  Every
dimension name must be a root member holding a string; every metric name a root member
holding a number or an array of at most 100 numbers.
"""

from __future__ import annotations

import math
import time
from typing import Any

UNITS = frozenset({
    "Seconds", "Microseconds", "Milliseconds",
    "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
    "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
    "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
})
MAX_METRICS = 100
MAX_DIMENSIONS = 30
MAX_VALUES = 100


class EMFError(AssertionError):
    pass


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise EMFError(msg)


def _is_number(v: object) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(float(v)))


def validate(obj: Any, now_ms: int | None = None) -> list[dict[str, Any]]:
    """Raise EMFError unless ``obj`` is a valid EMF root object; return its directives."""
    _check(isinstance(obj, dict), "root must be an object")
    aws = obj.get("_aws")
    _check(isinstance(aws, dict), "_aws must be an object")
    ts = aws.get("Timestamp")
    _check(isinstance(ts, int) and not isinstance(ts, bool), "_aws.Timestamp must be an int")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    # Epoch milliseconds, not seconds or ns: within a day of now.
    _check(abs(now - ts) < 86_400_000, f"_aws.Timestamp {ts} is not epoch ms near now")
    directives = aws.get("CloudWatchMetrics")
    _check(isinstance(directives, list) and directives != [],
           "_aws.CloudWatchMetrics must be a non-empty array")
    for d in directives:
        _check(isinstance(d, dict), "a directive must be an object")
        ns = d.get("Namespace")
        _check(isinstance(ns, str) and 1 <= len(ns) <= 255, f"bad Namespace {ns!r}")
        dims = d.get("Dimensions")
        _check(isinstance(dims, list), "Dimensions must be an array of dimension sets")
        for dset in dims:
            _check(isinstance(dset, list), "a dimension set must be an array")
            _check(len(dset) <= MAX_DIMENSIONS, f"{len(dset)} dimensions in one set (> 30)")
            _check(len(set(dset)) == len(dset), f"repeated dimension in {dset}")
            for name in dset:
                _check(isinstance(name, str) and name in obj,
                       f"dimension {name!r} is not a root member")
                _check(isinstance(obj[name], str), f"dimension {name!r} value is not a str")
        metrics = d.get("Metrics")
        _check(isinstance(metrics, list), "Metrics must be an array")
        _check(len(metrics) <= MAX_METRICS, f"{len(metrics)} metrics in a directive (> 100)")
        names = []
        for m in metrics:
            _check(isinstance(m, dict), "a metric definition must be an object")
            name = m.get("Name")
            _check(isinstance(name, str) and 1 <= len(name) <= 255, f"bad metric Name {name!r}")
            names.append(name)
            if "Unit" in m:
                _check(m["Unit"] in UNITS, f"metric {name}: unit {m['Unit']!r} not allowed")
            if "StorageResolution" in m:
                _check(m["StorageResolution"] in (1, 60),
                       f"metric {name}: StorageResolution must be 1 or 60")
            _check(name in obj, f"metric {name!r} is not a root member")
            value = obj[name]
            if isinstance(value, list):
                _check(1 <= len(value) <= MAX_VALUES, f"metric {name}: 1-100 values")
                _check(all(_is_number(v) for v in value), f"metric {name}: non-number value")
            else:
                _check(_is_number(value), f"metric {name}: value {value!r} is not a number")
            _check(all(name not in dset for dset in dims), f"{name} is metric and dimension")
        _check(len(set(names)) == len(names), "a metric is defined twice")
    return directives


def values(obj: dict[str, Any]) -> dict[str, float]:
    """Metric name -> value, for the metrics the first directive defines."""
    return {m["Name"]: obj[m["Name"]] for m in obj["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
