"""Shared fixtures: one facade per recorder implementation, and a GC-state guard.

``impl`` runs a test once against ``gcpause._core`` (id ``c``) and once against
``gcpause._pure`` (id ``pure``).  Without the C extension the ``c`` case is
skipped with the import error as reason, unless ``GCPAUSE_REQUIRE_C=1``, where
the session fails at configure time instead.
"""

from __future__ import annotations

import gc
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Iterator

import pytest

import gcpause
from gcpause import _pure
from gcpause._recording import Api

try:
    from gcpause import _core
except ImportError as exc:  # pragma: no cover - exercised on pure-only installs
    _core = None  # type: ignore[assignment]
    _CORE_ERROR: ImportError | None = exc
else:
    _CORE_ERROR = None

REQUIRE_C = os.environ.get("GCPAUSE_REQUIRE_C", "") not in ("", "0")


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_C and (_core is None or gcpause.IMPLEMENTATION != "c"):
        raise pytest.UsageError(
            f"GCPAUSE_REQUIRE_C=1 but the C extension did not load: {_CORE_ERROR}")


def pytest_report_header(config: pytest.Config) -> str:
    return (f"gcpause {gcpause.__version__} implementation={gcpause.IMPLEMENTATION} "
            f"from {os.path.dirname(gcpause.__file__)}; python {sys.version.split()[0]}")


@dataclass(frozen=True)
class Impl:
    """One recorder implementation behind the public API's shape."""

    tag: str
    backend: ModuleType
    api: Api

    @property
    def Recorder(self) -> type[gcpause.Recorder]:  # noqa: N802 - mirrors the class name
        return self.api.Recorder  # type: ignore[return-value]


_IMPLS = [
    pytest.param("c", marks=[pytest.mark.c_extension, pytest.mark.skipif(
        _core is None, reason=f"gcpause._core unavailable: {_CORE_ERROR}")], id="c"),
    pytest.param("pure", id="pure"),
]


@pytest.fixture(params=_IMPLS)
def impl(request: pytest.FixtureRequest) -> Iterator[Impl]:
    backend: ModuleType = _core if request.param == "c" else _pure  # type: ignore[assignment]
    api = Api(backend, gcpause.Recorder if backend is gcpause._backend else None)
    yield Impl(request.param, backend, api)
    backend.stop()
    backend.reset()


def _not_hypothesis(cb: object) -> bool:
    # Hypothesis installs one gc callback of its own on first use and keeps it.
    return not getattr(cb, "__module__", "").startswith("hypothesis")


def gc_state() -> tuple[object, ...]:
    return (gc.isenabled(), gc.get_threshold(), list(filter(_not_hypothesis, gc.callbacks)),
            gc.get_freeze_count(), gc.get_debug())


@contextmanager
def gc_disabled() -> Iterator[None]:
    """No automatic collection inside (the enabled flag is restored)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@pytest.fixture
def gc_off() -> Iterator[None]:
    """Automatic collections off for the test (the enabled flag is restored)."""
    with gc_disabled():
        yield


@pytest.fixture
def empty_callbacks() -> Iterator[None]:
    """Run with gc.callbacks empty (other tools' callbacks set aside)."""
    saved = list(gc.callbacks)
    gc.callbacks.clear()
    try:
        yield
    finally:
        gc.callbacks[:] = saved


@pytest.fixture(autouse=True)
def gc_guard() -> Iterator[None]:
    """Fail any test that leaves the interpreter's GC state changed."""
    before = gc_state()
    yield
    after = gc_state()
    if after != before:
        # Restore first so one failure does not cascade.
        enabled, thresholds, callbacks, _, debug = before
        gc.set_threshold(*thresholds)  # type: ignore[misc]
        gc.callbacks[:] = callbacks + [  # type: ignore[operator]
            cb for cb in gc.callbacks if not _not_hypothesis(cb)]
        gc.set_debug(debug)  # type: ignore[arg-type]
        (gc.enable if enabled else gc.disable)()
        pytest.fail(f"GC state changed by the test:\n before={before}\n after={after}")
