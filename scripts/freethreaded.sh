#!/usr/bin/env bash
# freethreaded.sh [pytest args...]: run the suite and the stress test on a free-threaded
# CPython ("3.14t", else "3.13t") built from Debian's source package.  A GCPAUSE_FULL_CHECK
# stage.  NOTE: the deb.debian.org cache on the build host served no python3.14 source
# package (404 for every 3.14 .orig.tar.xz in the Sources index), only python3.13's
# 3.13.15; the script then builds 3.13.15t (Py_mod_gil and sys._is_gil_enabled() exist
# since 3.13, so the checks below are the same).
#
#   1. Build once, cached outside the clone in ${GCPAUSE_CACHE:-/var/cache/gcpause}:
#      - a private APT state (apt-src/, deb-src line for sid; the host's /etc/apt and
#        /var/lib/apt are never read or written) fetches python3.14's source package with
#        `apt-get source --download-only` (the upstream .orig.tar.xz is all we use);
#      - ./configure --disable-gil --prefix=$CACHE/cpython-3.1Xt; make -j2; make install;
#      - a venv cpython-ft-venv with pytest + hypothesis (from PyPI).
#      A stamp file makes later calls skip all of this.  ~15 min on 2 cores the first time.
#   2. Copy the work tree to a temp dir, build gcpause._core in place for 3.14t, then:
#      a. check what importing the module does to the GIL (it declares no Py_mod_gil, so
#         CPython re-enables the GIL and emits a RuntimeWarning) -- asserted, not assumed;
#      b. the whole suite with GCPAUSE_REQUIRE_C=1 (GIL re-enabled by the import, the way
#         users get it);
#      c. the stress test with GCPAUSE_FULL_CHECK=1 (longer run);
#      d. informational only, never fails the stage: the stress test with PYTHON_GIL=0,
#         i.e. the GIL forced off "at your own risk" -- this is what declaring
#         Py_mod_gil = Py_MOD_GIL_NOT_USED would mean today (docs/reliability.md).
# Exit status: non-zero if the build, (a), (b) or (c) fails.
# GCPAUSE_DEBIAN_MIRROR overrides the mirror (default http://deb.debian.org/debian).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(git -c safe.directory='*' -C "$HERE" rev-parse --show-toplevel)
CACHE=${GCPAUSE_CACHE:-/var/cache/gcpause}
MIRROR=${GCPAUSE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# Versions tried in order; 3.13 (where --disable-gil is experimental) only if the mirror
# serves no 3.14 source package (the deb.debian.org cache this was written on serves part of
# the source pool only).
FT_VERSIONS=${GCPAUSE_FT_VERSIONS:-"3.14 3.13"}
VENV=$CACHE/cpython-ft-venv
A=$CACHE/apt-src
RECIPE=1
STAMP=$VENV/.gcpause-stamp
WANT="freethreaded recipe=$RECIPE mirror=$MIRROR versions=$FT_VERSIONS"

log() { printf 'freethreaded: %s\n' "$*" >&2; }
die() { printf 'freethreaded: ERROR: %s\n' "$*" >&2; exit 1; }

# Download the newest source package of python$1 that the mirror actually serves; apt
# checks it against the signed Sources index.  Prints the .orig tarball's path.
fetch_source() {
    local pkg=python$1 v
    for v in $(APT_CONFIG=$A/apt.conf apt-cache showsrc "$pkg" 2>/dev/null \
               | awk '/^Version:/ {print $2}' | sort -rV); do
        rm -rf "$A/src" && mkdir -p "$A/src"
        if (cd "$A/src" && APT_CONFIG=$A/apt.conf apt-get -q source --download-only \
                "$pkg=$v" >"$A/log/source.log" 2>&1); then
            ls "$A"/src/"$pkg"_*.orig.tar.* | head -n 1
            return 0
        fi
        log "source package $pkg $v not downloadable from $MIRROR"
    done
    return 1
}

build_python() {
    local work tarball="" v suite prefix
    log "building a free-threaded CPython into $CACHE (one-time, ~15 min on 2 cores)"
    command -v gcc >/dev/null && command -v make >/dev/null || die "need gcc and make"
    [[ -f $KEYRING ]] || die "$KEYRING missing (package debian-archive-keyring)"
    mkdir -p "$A/etc/apt/apt.conf.d" "$A/etc/apt/preferences.d" "$A/etc/apt/sources.list.d" \
             "$A/state/lists/partial" "$A/cache/archives/partial" "$A/log"
    : >"$A/state/status"
    : >"$A/etc/apt/sources.list"
    for suite in sid forky trixie trixie-backports; do
        echo "deb-src [signed-by=$KEYRING] $MIRROR $suite main" >>"$A/etc/apt/sources.list"
    done
    printf '%s\n' \
        "Dir::Etc \"$A/etc/apt\"; Dir::State \"$A/state\"; Dir::State::status \"$A/state/status\";" \
        "Dir::Cache \"$A/cache\"; Dir::Log \"$A/log\";" \
        'APT::Architecture "amd64"; APT::Architectures { "amd64"; };' \
        'Acquire::Check-Valid-Until "false"; Acquire::Languages "none"; Debug::NoLocking "true";' \
        >"$A/apt.conf"
    APT_CONFIG=$A/apt.conf apt-get -q update >"$A/log/update.log" 2>&1 \
        || { tail "$A/log/update.log" >&2; die "apt-get update (deb-src) failed"; }
    for v in $FT_VERSIONS; do
        if tarball=$(fetch_source "$v"); then
            FT_VER=$v
            break
        fi
        tarball=""
    done
    rm -rf "$A"/state/lists/*
    [[ -n $tarball ]] || die "no CPython source package ($FT_VERSIONS) downloadable from $MIRROR"
    log "source: $(basename "$tarball")"
    prefix=$CACHE/cpython-${FT_VER}t
    work=$CACHE/cpython-ft-build
    rm -rf "$work" "$prefix" "$VENV" && mkdir -p "$work"
    tar -C "$work" --strip-components=1 -xf "$tarball"
    (cd "$work" && ./configure -q --disable-gil --prefix="$prefix" --with-ensurepip=install \
        >"$work/configure.log" 2>&1) || { tail -30 "$work/configure.log" >&2; die "configure failed"; }
    (cd "$work" && make -j2 >"$work/make.log" 2>&1) || { tail -30 "$work/make.log" >&2; die "make failed"; }
    (cd "$work" && make install >"$work/install.log" 2>&1) || { tail -30 "$work/install.log" >&2; die "make install failed"; }
    "$prefix/bin/python${FT_VER}t" -m venv "$VENV"
    # Recent hypothesis releases carry a Rust extension with no free-threaded wheel (and
    # crates.io is not reachable): take the newest release that has a pure wheel.
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        --only-binary=hypothesis setuptools wheel "pytest>=7" hypothesis >&2
    rm -rf "$work" "$A/src"
    echo "$WANT" >"$STAMP"
}

mkdir -p "$CACHE"
exec 9>"$CACHE/.freethreaded.lock"
flock 9
if [[ ! -f $STAMP || $(<"$STAMP") != "$WANT" || ! -x $VENV/bin/python ]]; then
    build_python
fi
PY=$VENV/bin/python
"$PY" -c 'import sys, sysconfig; assert sysconfig.get_config_var("Py_GIL_DISABLED"), "not a free-threaded build"; print(sys.version)'

# Fresh copy of the work tree (tracked + untracked-not-ignored files).
T=$(mktemp -d /tmp/gcpause-ft.XXXXXX)
trap 'rm -rf "$T"' EXIT
git -c safe.directory='*' -C "$SRC" ls-files -co --exclude-standard -z \
    | while IFS= read -r -d '' f; do [[ -e $SRC/$f ]] && printf '%s\0' "$f"; done \
    | tar -C "$SRC" --null -T - -cf - | tar -C "$T" -xf -
(cd "$T" && GCPAUSE_REQUIRE_C=1 "$PY" setup.py -q build_ext --inplace >&2) || die "build_ext failed"
export PYTHONPATH=$T/src GCPAUSE_REQUIRE_C=1 PYTHONDONTWRITEBYTECODE=1
# Importing gcpause._core re-enables the GIL with this RuntimeWarning; pytest's
# filterwarnings=error would turn it into an error at conftest import (the tests that spawn
# interpreters filter it themselves, see tests/isolated/_common.py).
GILWARN='ignore:The global interpreter lock:RuntimeWarning'
# Child interpreters the tests start (python -m gcpause run, isolated scripts) print the
# same warning on stderr; tests that compare stderr byte for byte would see it.
export PYTHONWARNINGS=$GILWARN

rc=0
log "(a) GIL status around 'import gcpause'"
(cd "$T" && "$PY" - <<'EOF') || rc=1
import sys, warnings
assert not sys._is_gil_enabled(), "GIL enabled before importing gcpause"
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    import gcpause
assert gcpause.IMPLEMENTATION == "c", gcpause.IMPLEMENTATION
msgs = [str(x.message) for x in w if issubclass(x.category, RuntimeWarning)]
print("after import: sys._is_gil_enabled() =", sys._is_gil_enabled())
print("RuntimeWarning:", msgs)
assert sys._is_gil_enabled(), "expected the GIL to be re-enabled (no Py_mod_gil slot)"
assert any("gcpause._core" in m and "global interpreter lock" in m for m in msgs), msgs
EOF

log "(b) whole suite, GIL re-enabled by the import"
(cd "$T" && "$PY" -m pytest -p no:cacheprovider -W "$GILWARN" -q "$@") || rc=1

log "(c) stress test, GCPAUSE_FULL_CHECK=1"
(cd "$T" && GCPAUSE_FULL_CHECK=1 "$PY" -m pytest -p no:cacheprovider -W "$GILWARN" -q \
    tests/test_stress.py) || rc=1

log "(d) informational: stress test with the GIL forced off (PYTHON_GIL=0)"
if (cd "$T" && PYTHON_GIL=0 "$PY" -m pytest -p no:cacheprovider -q -x tests/test_stress.py); then
    log "(d) passed with PYTHON_GIL=0 (does not prove the C code race-free; see docs/reliability.md)"
else
    log "(d) FAILED with PYTHON_GIL=0: expected while the module is not free-threading safe"
fi
exit "$rc"
