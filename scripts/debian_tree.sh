#!/usr/bin/env bash
# debian_tree.sh: ensure a private Debian sid amd64 tree (python3.14/3.15 + -dev/-venv, gcc,
# libc6-dev, dash, coreutils; venvs /v314 /v315 with pip setuptools wheel pytest hypothesis)
# for building and testing C extensions via chroot. Root only; host apt state is untouched.
# Caches: ${GCPAUSE_CACHE:-/var/cache/gcpause}/tree-amd64 (+ stamp file), apt state in
# .../apt-amd64. Warm call = stamp check only. Prints the tree path on stdout, progress on
# stderr. GCPAUSE_DEBIAN_MIRROR overrides the mirror (default: host's .../debian apt source).
set -euo pipefail

# Bump when the recipe changes in a way the stamp below does not capture.
RECIPE_VERSION=2
ARCH=amd64
SUITE=sid
PYVERS=(3.14 3.15)
DEBS=(python3.14 python3.14-dev python3.14-venv python3.15 python3.15-dev python3.15-venv
      gcc libc6-dev dash coreutils)
PIP_PKGS=(pip setuptools wheel pytest hypothesis prometheus_client opentelemetry-api opentelemetry-sdk aws-lambda-powertools awslambdaric==4.2.2)
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

CACHE=${GCPAUSE_CACHE:-/var/cache/gcpause}
ROOT=$CACHE/tree-$ARCH
A=$CACHE/apt-$ARCH
STAMP_NAME=.gcpause-tree-stamp
EXPECTED_STAMP="gcpause-debian-tree recipe=$RECIPE_VERSION arch=$ARCH suite=$SUITE debs=${DEBS[*]} pip=${PIP_PKGS[*]}"

log() { printf 'debian_tree: %s\n' "$*" >&2; }
die() { printf 'debian_tree: ERROR: %s\n' "$*" >&2; exit 1; }

tree_ok() {  # $1 = tree dir; cheap check, no subprocesses
    local r=$1 v
    [[ -f $r/$STAMP_NAME && $(<"$r/$STAMP_NAME") == "$EXPECTED_STAMP" ]] || return 1
    for v in "${PYVERS[@]}"; do
        [[ -f $r/v${v/./}/pyvenv.cfg && -f $r/usr/bin/python$v ]] || return 1
    done
    [[ -d $r/tmp && -e $r/usr/bin/sh && -c $r/dev/null ]]
}

# ---- fast path -------------------------------------------------------------------------
if tree_ok "$ROOT"; then
    log "tree up to date: $ROOT"
    echo "$ROOT"
    exit 0
fi

# ---- slow path: (re)build ----------------------------------------------------------------
[[ $(id -u) == 0 ]] || die "must run as root (chroot and dpkg-deb ownership); tree: $ROOT"
for tool in apt-get dpkg-deb chroot flock; do
    command -v "$tool" >/dev/null || die "host tool '$tool' not found"
done
CHROOT=$(command -v chroot)
[[ -f $KEYRING ]] || die "$KEYRING missing on the host (package debian-archive-keyring)"
mkdir -p "$CACHE" 2>/dev/null && [[ -w $CACHE ]] \
    || die "cache dir $CACHE is not writable; set GCPAUSE_CACHE to a writable directory"

# Serialise builders (and test_in_tree.sh runs, which hold the lock and set this var).
if [[ -z ${_GCPAUSE_TREE_LOCK_HELD:-} ]]; then
    exec 8>"$CACHE/.lock"
    if ! flock -n 8; then
        log "waiting for lock $CACHE/.lock (another build or test run)"
        flock 8
    fi
    if tree_ok "$ROOT"; then log "tree up to date: $ROOT"; echo "$ROOT"; exit 0; fi
fi

# Refuse to rm -rf anything with a mount point below it (e.g. a bind-mounted /proc).
assert_no_mounts() {
    local d
    d=$(realpath -m "$1")
    if awk -v d="$d" '$5 == d || index($5, d "/") == 1 {found=1} END {exit !found}' \
        /proc/self/mountinfo; then
        die "something is mounted under $d; unmount it first"
    fi
}
rm_tree() { [[ -e $1 ]] || return 0; assert_no_mounts "$1"; rm -rf -- "$1"; }

# Debian mirror: GCPAUSE_DEBIAN_MIRROR, else the first enabled http(s) ".../debian" URI in
# the host's sources (one-line .list and deb822 .sources formats).
host_debian_uris() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" {print $2}'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        awk '
            function flush(  n, i, u) {
                if (types ~ /(^|[ \t])deb([ \t]|$)/ && tolower(enabled) != "no") {
                    n = split(uris, u, /[ \t]+/)
                    for (i = 1; i <= n; i++) if (u[i] != "") print u[i]
                }
                types = ""; uris = ""; enabled = ""; last = ""
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]/   { if (last == "uris") uris = uris " " $0
                         else if (last == "types") types = types " " $0
                         next }
            { key = tolower($0); sub(/:.*/, "", key)
              val = $0; sub(/^[^:]*:[ \t]*/, "", val); last = key
              if (key == "types") types = val
              else if (key == "uris") uris = val
              else if (key == "enabled") enabled = val }
            END { flush() }' "$f"
    done
}
if [[ -n ${GCPAUSE_DEBIAN_MIRROR:-} ]]; then
    MIRROR=${GCPAUSE_DEBIAN_MIRROR%/}
else
    mapfile -t uris < <(host_debian_uris | grep -E '^https?://[^[:space:]]+/debian/?$' || true)
    [[ ${#uris[@]} -gt 0 ]] || die "no http(s) '.../debian' mirror found in /etc/apt/sources.list(.d); set GCPAUSE_DEBIAN_MIRROR (e.g. http://HOST/debian)"
    MIRROR=${uris[0]%/}
fi

t0=$SECONDS
NEW=$ROOT.building
log "building $ROOT (recipe $RECIPE_VERSION, mirror $MIRROR $SUITE)"
rm_tree "$NEW"
rm_tree "$ROOT.old"

# -- private apt state (the host's /etc/apt and /var/lib/apt are never read or written) --
mkdir -p "$A/etc/apt/apt.conf.d" "$A/etc/apt/preferences.d" "$A/etc/apt/sources.list.d" \
         "$A/state/lists/partial" "$A/cache/archives/partial" "$A/log"
: >"$A/state/status"
echo "deb [signed-by=$KEYRING] $MIRROR $SUITE main" >"$A/etc/apt/sources.list"
cat >"$A/apt.conf" <<EOF
Dir::Etc "$A/etc/apt"; Dir::State "$A/state"; Dir::State::status "$A/state/status";
Dir::Cache "$A/cache"; Dir::Log "$A/log";
APT::Architecture "$ARCH"; APT::Architectures { "$ARCH"; };
APT::Install-Recommends "false"; APT::Install-Suggests "false";
Acquire::Check-Valid-Until "false"; Acquire::Languages "none"; Debug::NoLocking "true";
EOF
apt_priv() { APT_CONFIG=$A/apt.conf apt-get -q "$@"; }

aptlog=$(mktemp)
trap 'rm -f "$aptlog"' EXIT
run_logged() {  # run quietly, show the log only on failure
    if ! "$@" >"$aptlog" 2>&1; then
        tail -n 30 "$aptlog" >&2
        die "command failed: $*"
    fi
}

log "apt-get update ($MIRROR $SUITE)"
run_logged apt_priv update
if grep -qE '^(E|Err):' "$aptlog"; then
    grep -E '^(E|Err|W):' "$aptlog" >&2
    die "apt-get update could not fetch the $SUITE index from $MIRROR"
fi
grep -E '^W:' "$aptlog" >&2 || true
log "downloading ${DEBS[*]}"
run_logged apt_priv clean
run_logged apt_priv install -y --download-only "${DEBS[@]}"
shopt -s nullglob
debs=("$A"/cache/archives/*.deb)
shopt -u nullglob
[[ ${#debs[@]} -gt 0 ]] || die "no .deb files downloaded"

# -- unpack (no maintainer scripts run) into a merged-/usr layout --
log "unpacking ${#debs[@]} debs"
mkdir -p "$NEW"/usr/{bin,lib,lib64,sbin}
for d in bin lib lib64 sbin; do ln -s "usr/$d" "$NEW/$d"; done
for f in "${debs[@]}"; do
    dpkg-deb -x "$f" "$NEW" || die "dpkg-deb -x failed on $f"
done
for d in bin lib lib64 sbin; do
    [[ -L $NEW/$d ]] || die "unpacking replaced the /$d -> usr/$d symlink"
done
run_logged apt_priv clean                   # drop the .debs (~120 MB) and the
rm -rf "$A"/state/lists/*                   # package lists (~60 MB); a rebuild refetches them
# Docs, man pages and translations are not needed to build or test.
rm -rf "$NEW"/usr/share/{doc,man,info,locale,lintian}

# -- what maintainer scripts / the host would normally provide --
ln -sf dash "$NEW/usr/bin/sh"
mkdir -p "$NEW/tmp" "$NEW/root" "$NEW/etc/ssl" "$NEW/src"
chmod 1777 "$NEW/tmp"
chmod 700 "$NEW/root"
cp -L /etc/resolv.conf "$NEW/etc/resolv.conf"
rm -rf "$NEW/etc/ssl/certs"
cp -rL /etc/ssl/certs "$NEW/etc/ssl/" || die "copying /etc/ssl/certs failed"
# A minimal /dev (pytest opens /dev/null; multiprocessing wants /dev/shm). No /proc.
mkdir -p "$NEW/dev/shm"
chmod 1777 "$NEW/dev/shm"
for spec in null:3 zero:5 full:7 random:8 urandom:9; do
    mknod -m 666 "$NEW/dev/${spec%:*}" c 1 "${spec#*:}" \
        || die "mknod $NEW/dev/${spec%:*} failed (no CAP_MKNOD?); set GCPAUSE_CACHE elsewhere"
done
[[ -e $NEW/etc/hosts ]] || printf '127.0.0.1 localhost\n::1 localhost\n' >"$NEW/etc/hosts"

# Environment for commands in the tree: nothing from the host except proxy / index settings.
chroot_env=(PATH=/usr/bin HOME=/root LANG=C.UTF-8 TMPDIR=/tmp PIP_NO_CACHE_DIR=1
            PIP_DISABLE_PIP_VERSION_CHECK=1)
[[ -f $NEW/etc/ssl/certs/ca-certificates.crt ]] \
    && chroot_env+=(PIP_CERT=/etc/ssl/certs/ca-certificates.crt)
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY \
         PIP_INDEX_URL PIP_TRUSTED_HOST PIP_DEFAULT_TIMEOUT PIP_RETRIES; do
    [[ -n ${!v:-} ]] && chroot_env+=("$v=${!v}")
done
in_new() { env -i "${chroot_env[@]}" "$CHROOT" "$NEW" "$@"; }

for v in "${PYVERS[@]}"; do
    venv=/v${v/./}
    log "creating $venv (python$v) and installing ${PIP_PKGS[*]}"
    run_logged in_new "/usr/bin/python$v" -m venv "$venv"
    run_logged in_new "$venv/bin/python" -m pip install -q -U "${PIP_PKGS[@]}"
    in_new "$venv/bin/python" -m pip freeze --all >"$NEW/.gcpause-v${v/./}-freeze.txt"
    # Smoke test: the toolchain can compile against this interpreter's headers (/tmp below
    # is the tree's own /tmp, seen from inside the chroot).
    printf '#include <Python.h>\nint f(void) { return PY_VERSION_HEX != 0; }\n' >"$NEW/tmp/probe.c"
    run_logged in_new /usr/bin/sh -c \
        "cc=\$($venv/bin/python -c 'import sysconfig; print(sysconfig.get_config_var(\"CC\"))') && \
         \$cc -I\$($venv/bin/python -c 'import sysconfig; print(sysconfig.get_path(\"include\"))') \
            -c -o /tmp/probe.o /tmp/probe.c && echo ok >/dev/null"
    rm -f "$NEW/tmp/probe.c" "$NEW/tmp/probe.o"
done

echo "$EXPECTED_STAMP" >"$NEW/$STAMP_NAME"
tree_ok "$NEW" || die "internal error: new tree fails its own completeness check"

# Swap in atomically-ish: rename old away, rename new in, delete old.
if [[ -e $ROOT ]]; then
    assert_no_mounts "$ROOT"
    mv -- "$ROOT" "$ROOT.old"
fi
mv -- "$NEW" "$ROOT"
rm_tree "$ROOT.old"
log "tree ready: $ROOT ($(du -sh "$ROOT" | cut -f1), $((SECONDS - t0)) s)"
echo "$ROOT"
