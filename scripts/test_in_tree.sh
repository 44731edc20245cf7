#!/usr/bin/env bash
# test_in_tree.sh VER [pytest args...]  (VER: 3.14 or 3.15; default args: -q)
# Builds and tests this project with Debian sid's CPython VER inside the chroot tree made by
# debian_tree.sh (cached in ${GCPAUSE_CACHE:-/var/cache/gcpause}/tree-amd64): copies the git
# work tree (tracked + untracked-not-ignored files) to <tree>/src, pip-installs it into /vXY,
# runs pytest there with GCPAUSE_REQUIRE_C=1; exits with pytest's code. Runs as root.
# GCPAUSE_SRC=/path/to/git/worktree tests that project instead of the one holding this script.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { printf 'test_in_tree: ERROR: %s\n' "$*" >&2; exit 1; }
log() { printf 'test_in_tree: %s\n' "$*" >&2; }

VER=${1:-}
case $VER in
    3.14 | 3.15) shift ;;
    *) printf 'usage: %s 3.14|3.15 [pytest args...]\n' "$0" >&2; exit 2 ;;
esac
PYTEST_ARGS=("$@")
[[ ${#PYTEST_ARGS[@]} -gt 0 ]] || PYTEST_ARGS=(-q)
VENV=/v${VER/./}

[[ $(id -u) == 0 ]] || die "must run as root (chroot)"
command -v git >/dev/null || die "git not found"
CHROOT=$(command -v chroot) || die "chroot not found"
if [[ -n ${GCPAUSE_SRC:-} ]]; then
    SRC=$(git -c safe.directory='*' -C "$GCPAUSE_SRC" rev-parse --show-toplevel 2>/dev/null) \
        || die "GCPAUSE_SRC=$GCPAUSE_SRC is not inside a git work tree"
else
    SRC=$(git -c safe.directory='*' -C "$HERE" rev-parse --show-toplevel 2>/dev/null) \
        || die "$HERE is not inside a git work tree"
fi

# Hold the cache lock for the whole run: one test run at a time uses <tree>/src and the
# venvs, and debian_tree.sh cannot swap the tree out from under us.
CACHE=${GCPAUSE_CACHE:-/var/cache/gcpause}
mkdir -p "$CACHE" 2>/dev/null && [[ -w $CACHE ]] \
    || die "cache dir $CACHE is not writable; set GCPAUSE_CACHE to a writable directory"
exec 8>"$CACHE/.lock"
if ! flock -n 8; then
    log "waiting for lock $CACHE/.lock (another build or test run)"
    flock 8
fi
ROOT=$(_GCPAUSE_TREE_LOCK_HELD=1 "$HERE/debian_tree.sh") || die "debian_tree.sh failed"
[[ -n $ROOT && -f $ROOT/$VENV/pyvenv.cfg ]] || die "tree at '$ROOT' has no $VENV"

# Environment inside the chroot: a clean one, plus proxy/index settings and GCPAUSE_*.
chroot_env=(PATH=/usr/bin HOME=/root LANG=C.UTF-8 TMPDIR=/tmp PIP_NO_CACHE_DIR=1
            PIP_DISABLE_PIP_VERSION_CHECK=1)
[[ -f $ROOT/etc/ssl/certs/ca-certificates.crt ]] \
    && chroot_env+=(PIP_CERT=/etc/ssl/certs/ca-certificates.crt)
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY \
         PIP_INDEX_URL PIP_TRUSTED_HOST PIP_DEFAULT_TIMEOUT PIP_RETRIES; do
    [[ -n ${!v:-} ]] && chroot_env+=("$v=${!v}")
done
while read -r v; do
    [[ $v == GCPAUSE_* && $v != GCPAUSE_REQUIRE_C ]] && chroot_env+=("$v=${!v}")
done < <(compgen -e)
chroot_env+=(GCPAUSE_REQUIRE_C=1)
# (fd 8, the lock, is not handed to anything running in the tree)
in_tree() { env -i "${chroot_env[@]}" "$CHROOT" "$ROOT" /usr/bin/env -C / "$@" 8>&-; }
in_src() { env -i "${chroot_env[@]}" "$CHROOT" "$ROOT" /usr/bin/env -C /src "$@" 8>&-; }
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"   # the host's DNS may have changed since

# Fresh copy of the work tree (no build artifacts: ignored files are skipped).
if [[ -e $ROOT/src ]]; then
    grep -qF " $ROOT/src" /proc/self/mountinfo && die "$ROOT/src has a mount on it; unmount it"
    rm -rf -- "$ROOT/src"
fi
mkdir -p "$ROOT/src"
git -c safe.directory='*' -C "$SRC" ls-files -co --exclude-standard -z \
    | while IFS= read -r -d '' f; do
          # tracked-but-deleted files are still listed; skip them
          if [[ -e $SRC/$f || -L $SRC/$f ]]; then printf '%s\0' "$f"; fi
      done \
    | tar -C "$SRC" --null -T - -cf - \
    | tar -C "$ROOT/src" -xf - \
    || die "copying $SRC to $ROOT/src failed"
log "copied $SRC -> $ROOT/src ($(find "$ROOT/src" -type f | wc -l) files)"

in_tree "$VENV/bin/python" -c 'import sys; print(sys.version)'
log "pip install --no-build-isolation /src (python$VER)"
in_tree "$VENV/bin/python" -m pip install --no-build-isolation /src \
    || die "pip install of $SRC failed under python$VER"

log "python$VER -m pytest -p no:cacheprovider ${PYTEST_ARGS[*]} (cwd /src)"
rc=0
in_src "$VENV/bin/python" -m pytest -p no:cacheprovider "${PYTEST_ARGS[@]}" || rc=$?
exit "$rc"
