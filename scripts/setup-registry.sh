#!/usr/bin/env bash
# Run two local OCI registries (Debian's docker-registry, distribution 2.8) on loopback for the tests:
#   $COG_CI_REGISTRY      (127.0.0.1:5000)  open
#   $COG_CI_AUTH_REGISTRY (127.0.0.1:5001)  htpasswd (bcrypt) auth; credentials in $COG_CI_REGISTRY_AUTH_FILE
# Our own configs, storage and logs live under $COG_CI_STATE/registry; the packaged config/service are not used.
# (Not the in-memory driver: it took 40-60 s to take a 300 MB push that the filesystem takes in 0.5-2 s.)
# Docker allows plain HTTP to 127.0.0.0/8 registries by default, so no TLS and no daemon config are needed.
# Idempotent: a registry that answers as expected on its port, started from the current config, is left alone.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

dir="$COG_CI_STATE/registry"
htpasswd_file="$dir/htpasswd"

# HTTP status of GET /v2/ on host:port ($1), with optional curl args; 000 when nothing answers.
v2_status() {
  local addr=$1
  shift
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "http://$addr/v2/" || true
}

# The state each registry must answer with: open → 200; auth → 401 without and 200 with the test credentials.
registry_ok() {
  case $1 in
    open) [[ $(v2_status "$COG_CI_REGISTRY") == 200 ]] ;;
    auth) [[ $(v2_status "$COG_CI_AUTH_REGISTRY") == 401 &&
      $(v2_status "$COG_CI_AUTH_REGISTRY" -u "$COG_CI_REGISTRY_USER:$COG_CI_REGISTRY_PASSWORD") == 200 ]] ;;
  esac
}

write_config() { # name addr [auth]
  local name=$1 addr=$2 auth=${3:-}
  mkdir -p "$dir/$name/data"
  {
    cat <<EOF
# Written by scripts/setup-registry.sh: a throwaway test registry, loopback only.
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/$name/data
  delete:
    enabled: true
http:
  addr: $addr
EOF
    if [[ -n $auth ]]; then
      cat <<EOF
auth:
  htpasswd:
    realm: cog-ci
    path: $htpasswd_file
EOF
    fi
  } >"$dir/$name/config.yml"
}

# Stop the registry this script started for name, if it still runs (its config changed, or it stopped answering).
stop_registry() { # name
  local pid
  pid=$(cat "$dir/$1/pid" 2>/dev/null) || return 0
  if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == docker-registry ]]; then
    log "restarting the $1 registry (pid $pid)"
    kill "$pid"
    wait_for 10 test ! -e "/proc/$pid"
  fi
  rm -f "$dir/$1/pid" "$dir/$1/started-with.yml"
}

start_registry() { # name addr
  local name=$1 addr=$2 status
  if registry_ok "$name" && cmp -s "$dir/$name/config.yml" "$dir/$name/started-with.yml"; then
    log "$name registry already up on $addr"
    return 0
  fi
  stop_registry "$name"
  status=$(v2_status "$addr")
  [[ $status == 000 ]] || die "something else answers on $addr (GET /v2/ -> $status); free the port or set the COG_CI_*REGISTRY variables"
  log "starting $name registry on $addr (log: $dir/$name/registry.log)"
  detached docker-registry serve "$dir/$name/config.yml" >>"$dir/$name/registry.log" 2>&1
  echo $! >"$dir/$name/pid"
  cp "$dir/$name/config.yml" "$dir/$name/started-with.yml"
  if ! wait_for 20 registry_ok "$name"; then
    tail -n 20 "$dir/$name/registry.log" >&2 || true
    die "$name registry did not come up on $addr"
  fi
}

main() {
  ensure_pkgs docker-registry apache2-utils curl
  # Under systemd the package starts its own service (htpasswd auth on :5000, the open registry's port).
  if [[ -d /run/systemd/system ]] && systemctl is-active --quiet docker-registry.service 2>/dev/null; then
    log "stopping the packaged docker-registry.service: the test registries use their own configs and ports"
    as_root systemctl disable --now docker-registry.service
  fi
  mkdir -p "$dir"

  if [[ ! -s $htpasswd_file ]] ||
    ! htpasswd -vb "$htpasswd_file" "$COG_CI_REGISTRY_USER" "$COG_CI_REGISTRY_PASSWORD" >/dev/null 2>&1; then
    htpasswd -Bbc "$htpasswd_file" "$COG_CI_REGISTRY_USER" "$COG_CI_REGISTRY_PASSWORD" 2>/dev/null
  fi
  printf 'REGISTRY=%s\nUSERNAME=%s\nPASSWORD=%s\n' \
    "$COG_CI_AUTH_REGISTRY" "$COG_CI_REGISTRY_USER" "$COG_CI_REGISTRY_PASSWORD" >"$COG_CI_REGISTRY_AUTH_FILE"

  write_config open "$COG_CI_REGISTRY"
  write_config auth "$COG_CI_AUTH_REGISTRY" htpasswd
  start_registry open "$COG_CI_REGISTRY"
  start_registry auth "$COG_CI_AUTH_REGISTRY"
}

main "$@"
