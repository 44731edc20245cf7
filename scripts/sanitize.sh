#!/usr/bin/env bash
# sanitize.sh [VERSION] [pytest args...]: the whole test suite against a sanitizer build and
# a debug build of gcpause._core, for one pyenv CPython (default 3.12).  A .ci/run stage.
#
#   1. ASan + UBSan: GCPAUSE_SANITIZE=1 (setup.py: -fsanitize=address,undefined -O0 -g3
#      -UNDEBUG -fno-sanitize-recover=undefined).  Run with gcc's libasan preloaded (the
#      interpreter itself is not instrumented), PYTHONMALLOC=malloc so every PyMem block of
#      ours is a malloc block ASan can see (pymalloc arenas would hide small overruns),
#      ASAN_OPTIONS=detect_leaks=0 (CPython leaks at exit by design; leaks are checked by
#      tests/test_leaks.py) and UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1.
#   2. Debug build: GCPAUSE_DEBUG_BUILD=1 (-O0 -g3 -UNDEBUG: our assert()s are live), run
#      with PYTHONMALLOC=debug (CPython's allocator debug hooks: buffer under/overflow,
#      use after free, PyMem/PyObject calls without the GIL) and -X dev.
# Both builds happen in a temporary copy of the work tree, never in place: the shared
# src/gcpause/_core*.so stays the normal build.  Subprocess tests (tests/isolated) inherit
# the environment, so they run against the same build.
# Exit status: non-zero if either run fails.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(git -c safe.directory='*' -C "$HERE" rev-parse --show-toplevel)
VER=3.12
if [[ ${1:-} =~ ^3\.[0-9]+$ ]]; then VER=$1; shift; fi
PYTEST_ARGS=("$@")
[[ ${#PYTEST_ARGS[@]} -gt 0 ]] || PYTEST_ARGS=(-q)

log() { printf 'sanitize: %s\n' "$*" >&2; }
die() { printf 'sanitize: ERROR: %s\n' "$*" >&2; exit 1; }

PY=$(bash "$HERE/venvs.sh" | awk -v v="$VER" '$1 == v {print $2}')
[[ -n $PY ]] || die "no venv for CPython $VER (scripts/venvs.sh)"
LIBASAN=$(gcc -print-file-name=libasan.so)
[[ -f $LIBASAN ]] || die "gcc's libasan.so not found (got '$LIBASAN')"

copy_tree() {  # tracked + untracked-not-ignored files of the work tree -> $1
    git -c safe.directory='*' -C "$SRC" ls-files -co --exclude-standard -z \
        | while IFS= read -r -d '' f; do [[ -e $SRC/$f ]] && printf '%s\0' "$f"; done \
        | tar -C "$SRC" --null -T - -cf - | tar -C "$1" -xf -
}

T=$(mktemp -d /tmp/gcpause-sanitize.XXXXXX)
trap 'rm -rf "$T"' EXIT
rc=0

# -- 1. ASan + UBSan -------------------------------------------------------------------
mkdir "$T/asan" && copy_tree "$T/asan"
log "building with GCPAUSE_SANITIZE=1 for $("$PY" -V)"
(cd "$T/asan" && GCPAUSE_SANITIZE=1 GCPAUSE_REQUIRE_C=1 "$PY" setup.py -q build_ext --inplace \
    >"$T/asan-build.log" 2>&1) || { cat "$T/asan-build.log" >&2; die "sanitizer build failed"; }
nm -D "$T"/asan/src/gcpause/_core*.so | grep -q __asan_report \
    || die "the built module is not instrumented (no __asan_report symbols)"
log "pytest under ASan+UBSan (LD_PRELOAD=$LIBASAN)"
(cd "$T/asan" && env LD_PRELOAD="$LIBASAN" PYTHONMALLOC=malloc \
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    PYTHONPATH="$T/asan/src" GCPAUSE_REQUIRE_C=1 PYTHONDONTWRITEBYTECODE=1 \
    "$PY" -m pytest -p no:cacheprovider "${PYTEST_ARGS[@]}") || { rc=1; log "ASan/UBSan run FAILED"; }

# -- 2. debug build ----------------------------------------------------------------------
mkdir "$T/debug" && copy_tree "$T/debug"
log "building with GCPAUSE_DEBUG_BUILD=1"
(cd "$T/debug" && GCPAUSE_DEBUG_BUILD=1 GCPAUSE_REQUIRE_C=1 "$PY" setup.py -q build_ext \
    --inplace >"$T/debug-build.log" 2>&1) || { cat "$T/debug-build.log" >&2; die "debug build failed"; }
log "pytest with the debug build (PYTHONMALLOC=debug, -X dev)"
(cd "$T/debug" && env PYTHONMALLOC=debug PYTHONPATH="$T/debug/src" GCPAUSE_REQUIRE_C=1 \
    PYTHONDONTWRITEBYTECODE=1 "$PY" -X dev -m pytest -p no:cacheprovider "${PYTEST_ARGS[@]}") \
    || { rc=1; log "debug-build run FAILED"; }

[[ $rc -eq 0 ]] && log "both runs passed (CPython $VER)"
exit "$rc"
