"""Settings of :func:`gcpause.aws_lambda.handler`: arguments, then ``GCPAUSE_*`` variables.

Everything is validated when the decorator is applied, i.e. during Lambda INIT, so a bad
value fails the INIT phase with one clear message instead of the first invocation.  An
argument given in code wins over the environment; an argument left out (``None``) is read
from the environment, else the default applies.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

MODES = ("paused", "young_only", "budget", "off")
COLLECT_POLICIES = ("always", "auto", "never")
REPORTS = ("emf", "powertools", "none")

DEFAULT_MODE = "paused"
DEFAULT_COLLECT = "auto"
DEFAULT_NAMESPACE = "GcPause"
#: Net container objects pending (see docs/aws_lambda.md, "auto") that trigger the
#: end-of-invocation collection under ``collect="auto"``.
DEFAULT_AUTO_OBJECTS = 50_000
#: Allocation budget of ``mode="budget"`` (objects, as gcpause.budget()).
DEFAULT_BUDGET = 100_000
INT_MAX = 2**31 - 1

#: EMF limits (CloudWatch "Specification: Embedded metric format").
MAX_DIMENSIONS = 30
MAX_NAME = 255

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _env(name: str, env: Mapping[str, str]) -> str | None:
    value = env.get(name)
    return None if value is None else value.strip()


def _choice(value: object, choices: tuple[str, ...], arg: str, var: str,
            env: Mapping[str, str], default: str) -> str:
    if value is None:
        raw = _env(var, env)
        if raw is None or raw == "":
            return default
        if raw not in choices:
            raise ValueError(f"{var}={raw!r} is not one of {', '.join(map(repr, choices))}")
        return raw
    if not isinstance(value, str):
        raise TypeError(f"{arg} must be a str, not {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{arg} must be one of {', '.join(map(repr, choices))}, "
                         f"got {value!r}")
    return value


def _int(value: object, arg: str, var: str, env: Mapping[str, str], default: int,
         low: int = 1, high: int = INT_MAX) -> int:
    if value is None:
        raw = _env(var, env)
        if raw is None or raw == "":
            return default
        try:
            number = int(raw.replace("_", ""))
        except ValueError:
            raise ValueError(f"{var}={raw!r} is not an integer") from None
        if not low <= number <= high:
            raise ValueError(f"{var}={raw!r} must be between {low} and {high}")
        return number
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{arg} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{arg} must be between {low} and {high}, got {value!r}")
    return int(value)


def _bool(value: object, arg: str, var: str, env: Mapping[str, str], default: bool) -> bool:
    if value is None:
        raw = _env(var, env)
        if raw is None:
            return default
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ValueError(f"{var}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")
    if not isinstance(value, bool):
        raise TypeError(f"{arg} must be a bool, not {type(value).__name__}")
    return value


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, not {type(name).__name__}")
    if not 1 <= len(name) <= MAX_NAME:
        raise ValueError(f"{what} must be 1 to {MAX_NAME} characters, got {name!r}")
    if not name.isprintable() or name != name.strip():
        raise ValueError(f"{what} must be printable with no surrounding spaces, got {name!r}")
    return name


def _namespace(value: object, env: Mapping[str, str]) -> str:
    var = "GCPAUSE_NAMESPACE"
    what = "namespace"
    if value is None:
        raw = _env(var, env)
        if raw is None or raw == "":
            return DEFAULT_NAMESPACE
        value, what = raw, var
    name = _check_name(value, what)
    if name.startswith("AWS/"):
        raise ValueError(f"{what} must not start with 'AWS/' (reserved), got {name!r}")
    return name


def _dimensions(value: object, env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    var = "GCPAUSE_DIMENSIONS"
    if value is None:
        raw = _env(var, env)
        if raw is None:
            fn = env.get("AWS_LAMBDA_FUNCTION_NAME")
            return (("function_name", fn),) if fn else ()
        pairs: list[tuple[str, str]] = []
        for item in filter(None, (p.strip() for p in raw.split(","))):
            key, sep, val = item.partition("=")
            if not sep:
                raise ValueError(f"{var}: {item!r} is not name=value "
                                 f"(expected e.g. 'service=orders,stage=prod')")
            pairs.append((key.strip(), val.strip()))
        items: list[tuple[object, object]] = list(pairs)
        what = var
    else:
        if not hasattr(value, "items"):
            raise TypeError(f"dimensions must be a mapping of str to str, "
                            f"not {type(value).__name__}")
        items = list(value.items())
        what = "dimensions"
    if len(items) > MAX_DIMENSIONS:
        raise ValueError(f"{what}: at most {MAX_DIMENSIONS} dimensions, got {len(items)}")
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw_key, raw_value in items:
        k = _check_name(raw_key, f"{what} name")
        v = _check_name(raw_value, f"{what}[{k!r}] value")
        if k in seen:
            raise ValueError(f"{what}: dimension {k!r} given twice")
        seen.add(k)
        out.append((k, v))
    return tuple(out)


class Config:
    """The validated settings of one decorated handler (immutable)."""

    __slots__ = (
        "auto_objects",
        "budget",
        "collect",
        "dimensions",
        "metrics",
        "mode",
        "namespace",
        "post_response",
        "report",
        "resolution",
    )
    mode: str
    collect: str
    budget: int
    auto_objects: int
    report: str
    metrics: Any
    namespace: str
    dimensions: tuple[tuple[str, str], ...]
    resolution: int
    post_response: bool

    def __init__(self, *, mode: object = None, collect: object = None, budget: object = None,
                 auto_objects: object = None, report: object = None, metrics: object = None,
                 namespace: object = None, dimensions: object = None,
                 resolution: object = None, post_response: object = None,
                 env: Mapping[str, str] | None = None) -> None:
        e: Mapping[str, str] = os.environ if env is None else env
        s = object.__setattr__
        s(self, "mode", _choice(mode, MODES, "mode", "GCPAUSE_MODE", e, DEFAULT_MODE))
        s(self, "collect", _choice(collect, COLLECT_POLICIES, "collect", "GCPAUSE_COLLECT", e,
                                   DEFAULT_COLLECT))
        s(self, "budget", _int(budget, "budget", "GCPAUSE_BUDGET", e, DEFAULT_BUDGET))
        s(self, "auto_objects", _int(auto_objects, "auto_objects", "GCPAUSE_AUTO_OBJECTS", e,
                                     DEFAULT_AUTO_OBJECTS))
        if metrics is not None and not callable(getattr(metrics, "add_metric", None)):
            raise TypeError(f"metrics must be an aws_lambda_powertools Metrics instance "
                            f"(an object with add_metric()), not {type(metrics).__name__}")
        s(self, "metrics", metrics)
        default_report = "emf" if metrics is None else "powertools"
        rep = _choice(report, REPORTS, "report", "GCPAUSE_REPORT", e, default_report)
        if rep == "powertools" and metrics is None:
            raise ValueError("report='powertools' needs metrics=<aws_lambda_powertools "
                             "Metrics instance>")
        s(self, "report", rep)
        s(self, "namespace", _namespace(namespace, e))
        s(self, "dimensions", _dimensions(dimensions, e))
        res = _int(resolution, "resolution", "GCPAUSE_RESOLUTION", e, 60, 1, 60)
        if res not in (1, 60):
            what = "resolution" if resolution is not None else "GCPAUSE_RESOLUTION"
            raise ValueError(f"{what} must be 1 (high resolution) or 60, got {res!r}")
        s(self, "resolution", res)
        s(self, "post_response", _bool(post_response, "post_response",
                                       "GCPAUSE_POST_RESPONSE", e, False))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Config is immutable")

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__
                           if k != "metrics")
        return f"Config({fields})"
