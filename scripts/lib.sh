# shellcheck shell=bash
# Shared conventions and helpers of the test-infrastructure scripts; sourced, never run.
#
# The ONE place that names the state directory, the registries and the auth file.
# Tests read the same conventions (see scripts/README.md):
#   COG_CI_STATE    state dir: /var/lib/cog-ci as root, else ${XDG_CACHE_HOME:-~/.cache}/cog-ci
#   127.0.0.1:5000  open registry             (COG_CI_REGISTRY)
#   127.0.0.1:5001  htpasswd-auth registry    (COG_CI_AUTH_REGISTRY)
#   $COG_CI_STATE/registry-auth   KEY=VALUE lines: REGISTRY, USERNAME, PASSWORD

if [[ -z "${COG_CI_STATE:-}" ]]; then
  if [[ $(id -u) -eq 0 ]]; then
    COG_CI_STATE=/var/lib/cog-ci
  else
    COG_CI_STATE="${XDG_CACHE_HOME:-$HOME/.cache}/cog-ci"
  fi
fi
export COG_CI_STATE
export COG_CI_REGISTRY="${COG_CI_REGISTRY:-127.0.0.1:5000}"
export COG_CI_AUTH_REGISTRY="${COG_CI_AUTH_REGISTRY:-127.0.0.1:5001}"
export COG_CI_REGISTRY_AUTH_FILE="$COG_CI_STATE/registry-auth"
# A fixed test identity for the auth registry: it guards nothing but a throwaway loopback registry.
export COG_CI_REGISTRY_USER=cog-ci
export COG_CI_REGISTRY_PASSWORD=cog-ci-test-password

DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

log() { printf '[%s] %s\n' "${0##*/}" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# Start "$@" as a daemon that outlives this script (there may be no init system): in its own session, stdin from
# /dev/null, and without this script's other descriptors, so that a lock its caller holds (`flock LOCK setup.sh`)
# does not stay held by the daemon for good. Its output goes where the call redirects it.
detached() {
  (
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      ((fd > 2)) && eval "exec $fd>&-"
    done
    exec setsid nohup "$@" </dev/null
  ) &
}

# Run a command as root: directly when we are root, else through sudo; fail clearly otherwise.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -- "$@"
  else
    die "needs root for: $*  (run as root or install sudo)"
  fi
}

# Install the Debian packages among "$@" that are not installed yet (one apt-get update at most per run).
ensure_pkgs() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  log "installing Debian packages: ${missing[*]}"
  apt_install "${missing[@]}"
}

# apt-get install "$@" (package names or ./local.deb files) after one `apt-get update` per setup run:
# a fresh machine's package lists may be stale.
apt_install() {
  if [[ -z "${_COG_CI_APT_UPDATED:-}" ]]; then
    as_root apt-get update -qq
    export _COG_CI_APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Wait up to $1 seconds for command "${@:2}" to succeed.
wait_for() {
  local timeout=$1 i
  shift
  for ((i = 0; i < timeout * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

mkdir -p "$COG_CI_STATE" 2>/dev/null || as_root install -d -o "$(id -u)" -g "$(id -g)" "$COG_CI_STATE"
