#!/usr/bin/env bash
# Create (once) and print the test venvs for every local pyenv CPython 3.9-3.13.
# Cached outside the clone in ${GCPAUSE_CACHE:-/var/cache/gcpause}/venvs/<major.minor>,
# with the test requirements installed; a stamp file makes later calls instant.
# Prints "<major.minor> <venv python>" per interpreter on stdout.
set -euo pipefail
CACHE=${GCPAUSE_CACHE:-/var/cache/gcpause}
REQS=(pip setuptools wheel "pytest>=7" hypothesis)
STAMP_VERSION=1
mkdir -p "$CACHE/venvs"
command -v pyenv >/dev/null || { echo "venvs.sh: pyenv not found" >&2; exit 1; }
for mm in 3.9 3.10 3.11 3.12 3.13; do
  full=$(pyenv versions --bare | grep -E "^${mm//./\\.}\.[0-9]+$" | sort -V | tail -n 1 || true)
  [ -n "$full" ] || { echo "venvs.sh: no pyenv CPython $mm, skipped" >&2; continue; }
  venv="$CACHE/venvs/$mm"
  stamp="$venv/.gcpause-stamp"
  want="$STAMP_VERSION $full ${REQS[*]}"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "venvs.sh: creating $venv from CPython $full" >&2
    rm -rf "$venv"
    "$(pyenv prefix "$full")/bin/python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -U "${REQS[@]}" >&2
    echo "$want" > "$stamp"
  fi
  echo "$mm $venv/bin/python"
done
