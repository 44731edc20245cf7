"""Free-threaded builds: is the GIL on before and after ``import gcpause``?

usage: gil_status.py -- prints RESULT {"before", "after", "warnings"}.
"""

from __future__ import annotations

import sys
import warnings

from _common import report

before = sys._is_gil_enabled()  # type: ignore[attr-defined]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import gcpause  # noqa: F401
after = sys._is_gil_enabled()  # type: ignore[attr-defined]
report(before=before, after=after, warnings=[str(w.message) for w in caught],
       implementation=gcpause.IMPLEMENTATION)
