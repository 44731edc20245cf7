"""benchmarks/ab_variants.py edits csrc/ by exact text: each edit must still apply.

The harness fails loudly when run against a csrc/ it no longer matches; this catches that
when csrc/ changes instead of the next time someone measures.
"""

from __future__ import annotations

import filecmp
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"


def _load() -> ModuleType:
    if not (BENCH / "ab_variants.py").is_file() or not (ROOT / "csrc" / "module.c").is_file():
        pytest.skip("needs the source tree (benchmarks/ and csrc/ beside tests/)")
    before = set(sys.modules)
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("_ab_variants", BENCH / "ab_variants.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(BENCH))
        for name in ("_meta", "bench_overhead"):  # its helpers, imported from BENCH
            if name not in before:
                sys.modules.pop(name, None)
    return mod


def test_every_variant_applies_to_csrc_and_changes_it(tmp_path: Path) -> None:
    ab = _load()
    assert ab.VARIANTS["recorder"] == []
    for name, edits in ab.VARIANTS.items():
        src = ab.apply(name, edits, str(tmp_path))   # SystemExit if an edit does not match
        same = filecmp.dircmp(ab.CSRC, src)
        if edits:
            assert same.diff_files, f"variant {name!r} left csrc/ unchanged"
        else:
            assert not same.diff_files


def test_a_stale_edit_fails_loudly(tmp_path: Path) -> None:
    ab = _load()
    with pytest.raises(SystemExit, match="update VARIANTS"):
        ab.apply("stale", [("module.c", "text that is not in module.c", "")], str(tmp_path))
    assert os.path.isdir(tmp_path / "stale")
