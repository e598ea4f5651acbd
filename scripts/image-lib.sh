# Shared by scripts/build-image, scripts/build-base and scripts/test-image (sourced, not run): the Docker engine check
# and the one way these scripts install Debian packages.

# need_engine NAME: return at once when a Docker engine answers (`docker info`); otherwise say what is needed and exit 1.
need_engine() {
  local why
  if ! command -v docker >/dev/null; then
    why="there is no docker command"
  elif why="$(docker info 2>&1 >/dev/null)"; then
    return 0
  else
    why="$(grep -m1 -i -e 'cannot connect' -e 'permission denied' -e 'error' <<<"$why" || true)"
    why="\`docker info\`: ${why:-no answer}"
  fi
  cat >&2 <<EOF
[$1] no Docker engine answers here ($why).
[$1] Building the image needs a running Docker engine. On Debian or Ubuntu, as root:
[$1]     apt-get install --no-install-recommends docker.io
[$1]     systemctl start docker        # without systemd: dockerd >/var/log/dockerd.log 2>&1 &
[$1] (a user not in the docker group runs the scripts with sudo). scripts/test-image installs and starts one itself
[$1] and stops it afterwards. Nothing was built or changed.
EOF
  exit 1
}

# apt_install NAME PACKAGE...: install the packages with apt-get and nothing beyond them: no recommended packages,
# nothing already installed upgraded or removed (a plan that would do so is refused, naming the packages, so the
# host's owner decides). Says on stderr what it adds. `apt-get update` runs only when the plan cannot be made or the
# install fails (stale lists). Needs root.
apt_install() {
  local name="$1"; shift
  local opts=(-q --no-install-recommends --no-upgrade) plan touched new attempt
  if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
    echo "[$name] $* missing: install it as root (apt-get install --no-install-recommends $*)" >&2
    exit 1
  fi
  for attempt in 1 2; do
    if [ "$attempt" = 2 ]; then
      echo "[$name] apt-get update (to install $*)" >&2
      DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    fi
    plan="$(DEBIAN_FRONTEND=noninteractive apt-get install -s "${opts[@]}" "$@" 2>&1)" || continue
    touched="$(sed -n -e 's/^Inst \([^ ]*\) \[.*/\1/p' -e 's/^Remv \([^ ]*\).*/\1/p' <<<"$plan" | tr '\n' ' ')"
    if [ -n "$touched" ]; then
      echo "[$name] installing $* would upgrade or remove packages already on this host (${touched% }):" \
           "not done; install $* yourself (apt-get install --no-install-recommends $*)" >&2
      exit 1
    fi
    new="$(sed -n 's/^Inst \([^ ]*\) .*/\1/p' <<<"$plan" | tr '\n' ' ')"
    [ -n "$new" ] || return 0
    echo "[$name] installing $* with apt-get (new packages: ${new% }; no recommends, nothing upgraded)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${opts[@]}" "$@" >&2 && return 0
  done
  echo "[$name] could not install $*${plan:+: $(tail -1 <<<"$plan")}" >&2
  exit 1
}
