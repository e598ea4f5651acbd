#!/usr/bin/env bash
# The small TensorFlow environment the SavedModel export (model/1/) runs in, as a separate process.
#
#   scripts/install-tf.sh         -> prints the path of a ready virtual environment (built if missing)
#
# TensorFlow cannot share the main environment (protobuf 3.20.3 there, protobuf >= 6 here), so it lives in its own
# venv, pinned by requirements/tf-lock.txt and cached outside the clone like scripts/install.sh does: in
# $RLRT_CACHE (default ~/.cache/rlrt), in a folder named after the lock's hash. Training finds it through
# RLRT_TF_PYTHON (its bin/python), which the Dockerfiles set; see docs/SERVING.md.
#
# Variables:
#   RLRT_TF_VENV   install into exactly this folder instead (the Dockerfiles use /opt/rlrt/tf-venv)
#   PYTHON         the interpreter to build the venv with (default python3.11, else python3)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lock="$root/requirements/tf-lock.txt"
recipe=1
hash="$( (cat "$lock"; echo "recipe=$recipe") | sha256sum | cut -c1-16)"
venv="${RLRT_TF_VENV:-${RLRT_CACHE:-$HOME/.cache/rlrt}/tf-venv-$hash}"
py="${PYTHON:-$(command -v python3.11 || command -v python3)}"

log() { echo "[install-tf] $*" >&2; }

if [ -f "$venv/.rlrt-complete" ] && [ "$(cat "$venv/.rlrt-complete")" = "$hash" ]; then
  echo "$venv"
  exit 0
fi

log "building the TensorFlow environment in $venv (lock $hash); the first build downloads ~300 MB"
# Build next to the target and move it into place, so an interrupted build never looks complete and two
# concurrent builds do not write into the same folder.
tmp="$venv.tmp.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
"$py" -m venv "$tmp"
"$tmp/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$lock" 2> >(grep -v "^WARNING: Location" >&2)
echo "$hash" >"$tmp/.rlrt-complete"
# Only bin/python is used (it finds its venv from its own location), so the moved venv works as is; the
# console scripts inside keep the temporary path in their first line and are not used.
rm -rf "$venv"
mv "$tmp" "$venv"
"$venv/bin/python" -c "import tensorflow as tf, numpy; tf.constant(1.0)" >&2
trap - EXIT
log "ready: $venv"
echo "$venv"
