"""Chooses the recorder backend once: the C extension, else the pure twin.

``GCPAUSE_NO_EXTENSIONS=1`` forces the pure recorder; ``GCPAUSE_REQUIRE_C=1``
turns a failed ``_core`` import into an ImportError instead of a fallback.
"""

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

IMPORT_ERROR: "ImportError | None" = None
backend: "ModuleType"


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


if _flag("GCPAUSE_NO_EXTENSIONS"):
    IMPORT_ERROR = ImportError("GCPAUSE_NO_EXTENSIONS is set")
else:
    try:
        from . import _core as backend
    except ImportError as exc:
        IMPORT_ERROR = exc

if IMPORT_ERROR is not None:
    if _flag("GCPAUSE_REQUIRE_C"):
        raise ImportError(
            f"GCPAUSE_REQUIRE_C=1 but gcpause._core could not be used: {IMPORT_ERROR}"
        ) from IMPORT_ERROR
    from . import _pure as backend  # noqa: F811 - the documented fallback

#: "c" when the C recorder is in use, "pure" for the pure-Python fallback.
IMPLEMENTATION = "pure" if IMPORT_ERROR is not None else "c"
