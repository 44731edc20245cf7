"""Run a tests/isolated/ script in a fresh interpreter and return what it reported.

Each script prints one ``RESULT {json}`` line on stdout.  The child gets the
same gcpause as the test process (its ``src`` dir first on PYTHONPATH) and
``-W error`` so any warning fails it.  On a free-threaded build importing
gcpause._core re-enables the GIL with a RuntimeWarning (the module declares no
Py_mod_gil; docs/reliability.md): that one warning is ignored, and only that.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import gcpause

HERE = Path(__file__).resolve().parent
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
GIL_WARNING = "ignore:The global interpreter lock:RuntimeWarning"


class ScriptFailed(AssertionError):
    pass


def run_script(script: str, *args: str, dev: bool = False, timeout: float = 120,
               env: dict[str, str] | None = None,
               check_stderr: bool = True) -> dict[str, Any]:
    """Run ``tests/isolated/<script>`` with ``args``; return its RESULT dict.

    Fails (ScriptFailed) on a non-zero exit, on anything written to stderr
    (when ``check_stderr``) and when no RESULT line was printed.
    ``dev=True`` adds ``-X dev`` (debug memory allocator hooks, ResourceWarning).
    """
    src = str(Path(gcpause.__file__).resolve().parent.parent)
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(
        [src] + [p for p in full_env.get("PYTHONPATH", "").split(os.pathsep) if p])
    full_env.pop("PYTHONWARNINGS", None)
    full_env.update(env or {})
    cmd = [sys.executable, "-W", "error"]
    if FREE_THREADED:
        cmd += ["-W", GIL_WARNING]
    if dev:
        cmd += ["-X", "dev"]
    cmd += [str(HERE / script), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=full_env, cwd=str(HERE))
    where = f"{' '.join(cmd)}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    if proc.returncode != 0:
        raise ScriptFailed(f"exit code {proc.returncode}: {where}")
    if check_stderr and proc.stderr.strip():
        raise ScriptFailed(f"unexpected stderr: {where}")
    results = [line[7:] for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if len(results) != 1:
        raise ScriptFailed(f"expected one RESULT line: {where}")
    out: dict[str, Any] = json.loads(results[0])
    out["_stdout"] = proc.stdout
    out["_stderr"] = proc.stderr
    return out
