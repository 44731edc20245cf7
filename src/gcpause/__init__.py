"""gcpause: measure every CPython cyclic-GC pause, and control when collections happen.

Recording (C extension, pure-Python fallback)::

    import gcpause
    gcpause.start()
    ...
    print(gcpause.stats())          # counts, totals, percentiles per generation

``import gcpause`` loads only the recorder; everything else is imported on
first use, so the import stays well under a millisecond.
"""

from ._impl import IMPLEMENTATION, IMPORT_ERROR
from ._impl import backend as _backend
from ._recording import DEFAULT_RING_SIZE, GenStats, Pause, Stats
from ._recording import Api as _Api
from ._recording import Recorder as _RecorderBase
from ._hist import RELATIVE_ERROR as HIST_RELATIVE_ERROR

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


class Recorder(_RecorderBase):
    __doc__ = _RecorderBase.__doc__
    _backend = _backend


_api = _Api(_backend, Recorder)
start = _api.start
stop = _api.stop
is_recording = _api.is_recording
reset = _api.reset
stats = _api.stats
records = _api.records
#: Sum of all pauses since start/reset in ns: one C call, no objects built.
total_pause_ns = _backend.total_pause_ns

# Names served from submodules on first access (PEP 562), so that importing
# gcpause does not pay for threading, contextlib or the CLI.
_LAZY = {
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
