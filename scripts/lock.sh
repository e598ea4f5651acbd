#!/usr/bin/env bash
# Recompile requirements/lock.txt from requirements/main.in and requirements/overrides.txt with uv's resolver
# (a plain pip resolve refuses this set: see the overrides file). Run after editing main.in, then commit the lock.
#
# torch is pinned to its CPU build (+cpu); where no local wheel exists, set FIND_LINKS to a folder or an index page
# that has it (e.g. PyTorch's CPU wheel page). scripts/install-tf.sh has its own lock (requirements/tf-lock.txt).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
uv="$(command -v uv || true)"
if [ -z "$uv" ]; then
  tools="${RLRT_CACHE:-$HOME/.cache/rlrt}/uv-tool"
  [ -x "$tools/bin/uv" ] || { python3 -m venv "$tools" && "$tools/bin/python" -m pip install -q uv; }
  uv="$tools/bin/uv"
fi
cd "$root/requirements"
"$uv" pip compile main.in --override overrides.txt --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
  --find-links "${FIND_LINKS:-/opt/wheels}" -o lock.txt
