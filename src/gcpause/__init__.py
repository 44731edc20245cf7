"""gcpause: measure every CPython cyclic-GC pause, and control when collections happen.

Recording (C extension, pure-Python fallback)::

    import gcpause
    gcpause.start()
    ...
    print(gcpause.stats())          # counts, totals, percentiles per generation

``import gcpause`` loads only the recorder; everything else is imported on
first use, so the import stays well under a millisecond.
"""

import os as _os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

    from ._recording import GenStats, Pause, Recorder, Stats

# Choose the backend once (kept in this module: every extra module costs
# import time).  GCPAUSE_NO_EXTENSIONS=1 forces the pure recorder;
# GCPAUSE_REQUIRE_C=1 turns a failed _core import into an ImportError.
IMPORT_ERROR: "ImportError | None" = None
_backend: "ModuleType"


def _flag(name: str) -> bool:
    return _os.environ.get(name, "") not in ("", "0")


if _flag("GCPAUSE_NO_EXTENSIONS"):
    IMPORT_ERROR = ImportError("GCPAUSE_NO_EXTENSIONS is set")
else:
    try:
        from . import _core as _backend
    except ImportError as exc:
        IMPORT_ERROR = exc

if IMPORT_ERROR is not None:
    if _flag("GCPAUSE_REQUIRE_C"):
        raise ImportError(
            f"GCPAUSE_REQUIRE_C=1 but gcpause._core could not be used: {IMPORT_ERROR}"
        ) from IMPORT_ERROR
    from . import _pure as _backend  # noqa: F811 - the documented fallback

#: "c" when the C recorder is in use, "pure" for the pure-Python fallback.
IMPLEMENTATION = "pure" if IMPORT_ERROR is not None else "c"

__version__ = "0.1.0.dev0"

__all__ = [
    "THRESHOLD_MAX",
    "Budget",
    "FreezeResult",
    "Paused",
    "Thresholds",
    "YoungOnly",
    "DEFAULT_RING_SIZE",
    "HIST_RELATIVE_ERROR",
    "IMPLEMENTATION",
    "IMPORT_ERROR",
    "GenStats",
    "budget",
    "collect",
    "flavor",
    "freeze",
    "paused",
    "thresholds",
    "young_only",
    "Pause",
    "Recorder",
    "Stats",
    "is_recording",
    "records",
    "reset",
    "start",
    "stats",
    "stop",
    "total_pause_ns",
]


DEFAULT_RING_SIZE = 4096
#: Largest relative difference between a reported percentile and the exact one.
HIST_RELATIVE_ERROR = 1 / 128


def start(ring_size: int = DEFAULT_RING_SIZE, sites: bool = False) -> None:
    """Start recording every collection; keep the newest ``ring_size`` records.

    Clears the previous global figures.  ``sites=True`` also notes, per
    collection, the Python code running when it started (``Pause.site``); it
    costs a frame lookup per collection (see benchmarks/README.md).  A no-op
    while recording with the same ``ring_size`` (``sites=True`` then turns
    sites on); ValueError if the size differs, or is not in 1..RING_MAX;
    TypeError if ``ring_size`` is not an int or ``sites`` not a bool.
    RuntimeError in a sub-interpreter on Python 3.9.  Bad input changes nothing.
    """
    _backend.start(ring_size, sites)


def stop() -> None:
    """Stop recording (idempotent).  Stats and records stay readable; an active
    ``Recorder`` keeps recording until it exits."""
    _backend.stop()


def is_recording() -> bool:
    """True between ``start()`` and ``stop()``."""
    return bool(_backend.is_recording())


def reset() -> None:
    """Zero the global figures and forget the records; recording goes on."""
    _backend.reset()


def stats() -> "Stats":
    """Immutable snapshot of everything recorded since ``start()``/``reset()``."""
    from ._recording import Stats  # noqa: PLC0415 - kept out of `import gcpause`

    return Stats(_backend.snapshot())


def records() -> "list[Pause]":
    """The records still in the ring since ``start()``/``reset()``, oldest first."""
    from ._recording import Pause  # noqa: PLC0415 - kept out of `import gcpause`

    return [Pause._from_raw(r) for r in _backend.records()]


#: Sum of all pauses since start/reset in ns: one C call, no objects built.
total_pause_ns = _backend.total_pause_ns


# Names served from submodules on first access (PEP 562), so that importing
# gcpause does not pay for threading, contextlib or the CLI.
_LAZY = {
    "Recorder": "_recording",
    "Stats": "_recording",
    "GenStats": "_recording",
    "Pause": "_recording",
    "paused": "control",
    "young_only": "control",
    "budget": "control",
    "thresholds": "control",
    "collect": "control",
    "freeze": "control",
    "flavor": "control",
    "Paused": "control",
    "YoungOnly": "control",
    "Budget": "control",
    "Thresholds": "control",
    "FreezeResult": "control",
    "THRESHOLD_MAX": "control",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gcpause' has no attribute {name!r}")
    import importlib  # noqa: PLC0415 - lazy by design

    value = getattr(importlib.import_module(f"gcpause.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> "list[str]":
    return sorted(set(globals()) | set(_LAZY))
