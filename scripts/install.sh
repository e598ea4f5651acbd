#!/usr/bin/env bash
# One install script for the README, .ci/run and both Dockerfiles.
#
#   scripts/install.sh              -> prints the path of a ready virtual environment (built if missing)
#   scripts/install.sh --deps-only  -> the same without installing this project into it (Docker layer caching)
#
# The environment lives outside the clone, in $RLRT_CACHE (default ~/.cache/rlrt), in a folder named after the
# lock file's hash, so an unchanged lock reuses it and a changed lock (or a fresh machine) builds a new one.
#
# Variables:
#   RLRT_VENV        install into exactly this folder instead (the Dockerfiles use /opt/rlrt/venv)
#   RLRT_TORCH       "cpu" (default) or "cuda": which torch build to install (the lock pins the CPU build)
#   RLRT_TORCH_INDEX extra index that serves torch's CPU build (e.g. PyTorch's own CPU index) where no local
#                    wheel exists; not needed where pip's find-links already has it
#   PYTHON           the interpreter to build the venv with (default python3.11, else python3)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lock="$root/requirements/lock.txt"
# Bump when the way the environment is built changes, so caches keyed on the old recipe are not reused.
recipe=1
hash="$( (cat "$lock"; echo "recipe=$recipe") | sha256sum | cut -c1-16)"
flavour="${RLRT_TORCH:-cpu}"
venv="${RLRT_VENV:-${RLRT_CACHE:-$HOME/.cache/rlrt}/venv-$hash-$flavour}"
py="${PYTHON:-$(command -v python3.11 || command -v python3)}"

log() { echo "[install] $*" >&2; }
deps_only=0
[ "${1:-}" = "--deps-only" ] && deps_only=1

install_project() {
  [ "$deps_only" = 1 ] && return 0
  # The project itself is installed (editable) into the shared environment when the environment points at another
  # checkout, or this checkout's setup.cfg (its packages and entry points: `rlrt`, the pytest plugin) changed since.
  local stamp="$venv/.rlrt-project"
  local wanted
  wanted="$root $(sha256sum "$root/setup.cfg" | cut -c1-16)"
  if [ "$(cd / && "$venv/bin/python" -c 'import runtime, os; print(os.path.dirname(os.path.dirname(runtime.__file__)))' 2>/dev/null)" != "$root" ] \
      || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    # setuptools warns on every editable install that a folder named like the package may shadow it; that is the
    # point of an editable install of this checkout, so the warning (nothing a user can act on) is silenced.
    PYTHONWARNINGS=ignore "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$root" >&2
    echo "$wanted" > "$stamp"
  fi
}

if [ -f "$venv/.rlrt-complete" ] && [ "$(cat "$venv/.rlrt-complete")" = "$hash" ]; then
  install_project
  echo "$venv"
  exit 0
fi

log "building the virtual environment in $venv (lock $hash, torch $flavour); the first build takes several minutes"
rm -rf "$venv"
"$py" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

reqs="$(mktemp)"
trap 'rm -f "$reqs"' EXIT
extra=()
if [ "$flavour" = "cuda" ]; then
  # The CUDA build of the same torch release, from the default index, with its CUDA runtime packages.
  grep -v '^torch==' "$lock" >"$reqs"
  torch_version="$(sed -n 's/^torch==\([0-9.]*\).*/\1/p' "$lock")"
  "${pip[@]}" install -q "torch==$torch_version" >&2
else
  cp "$lock" "$reqs"
  if [ -n "${RLRT_TORCH_INDEX:-}" ]; then extra=(--extra-index-url "$RLRT_TORCH_INDEX"); fi
fi
# The lock is complete and resolved with overrides (see requirements/overrides.txt): install it as is.
"${pip[@]}" install -q --no-deps "${extra[@]}" -r "$reqs" 2> >(grep -v "^WARNING: Location" >&2)
# The imports work (their own banners, e.g. gym's notice that d3rlpy's import of gym prints, shown only if not).
if ! check=$("$venv/bin/python" -c "import ray.rllib, d3rlpy, pybullet_envs_gymnasium, mlagents_envs, sagemaker_training, torch" 2>&1); then
  echo "$check" >&2
  log "the environment in $venv does not import; remove it and run again"
  exit 1
fi
echo "$hash" >"$venv/.rlrt-complete"
install_project
log "ready: $venv"
echo "$venv"
