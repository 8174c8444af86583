#!/usr/bin/env bash
# Make sure a Docker daemon with buildx, BuildKit >= 0.13 and the containerd image store answers, and that
# linux/arm64 binaries run through qemu (binfmt). Does nothing when all of that is already there.
#
# Where the engine is missing it installs Docker Engine 26 + buildx from Debian trixie's .debs: bookworm's own
# docker.io (Engine 20.10, BuildKit 0.8) cannot build multi-platform images in one call, and the trixie
# packages install on bookworm (they only need libc6 >= 2.34). The machine's apt configuration and lists are left
# untouched: trixie is read through a private sources list and a private lists directory.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

MIN_BUILDKIT=0.13
# Engine 26 vendors BuildKit 0.13. Used to install an engine, and to judge a daemon whose BuildKit reports no
# version: Debian's docker.io is built without one ("v0.0.0+unknown").
MIN_ENGINE_MAJOR=26
DOCKERD_LOG=/var/log/cog-ci-dockerd.log
DAEMON_JSON=/etc/docker/daemon.json

# ---- qemu / binfmt for linux/arm64 ------------------------------------------------------------------------
ensure_binfmt() {
  ensure_pkgs qemu-user-static binfmt-support
  local entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
  if [[ ! -e $entry ]]; then
    # Without an init system (containers, CI sandboxes) nothing mounts binfmt_misc or runs update-binfmts.
    [[ -e /proc/sys/fs/binfmt_misc/register ]] ||
      as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
      die "cannot mount binfmt_misc: linux/arm64 builds need it"
    as_root update-binfmts --enable qemu-aarch64 || true
  fi
  if [[ ! -e $entry ]] || ! grep -qx enabled "$entry"; then
    die "qemu-aarch64 is not registered in binfmt_misc"
  fi
  # F (fix-binary): the kernel keeps the interpreter open, so it also works inside containers' root filesystems.
  grep -q '^flags:.*F' "$entry" || die "qemu-aarch64 binfmt entry lacks the F flag: arm64 RUN steps would fail in containers"
}

# ---- capability checks ------------------------------------------------------------------------------------
version_ge() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]; }

# Prints what the running daemon lacks (nothing when it is fine).
daemon_gaps() {
  docker buildx version >/dev/null 2>&1 || { echo "the docker buildx plugin"; return; }
  local inspect bk engine
  inspect=$(docker buildx inspect 2>/dev/null)
  bk=$(sed -n 's/^ *BuildKit\( version\)\{0,1\}: *v\{0,1\}\([0-9.]*\).*/\2/ip' <<<"$inspect" | head -n1)
  if [[ -z $bk || $bk == 0.0.0 ]]; then
    engine=$(docker info --format '{{.ServerVersion}}')
    version_ge "${engine%%[!0-9.]*}" "$MIN_ENGINE_MAJOR" ||
      echo "BuildKit >= $MIN_BUILDKIT (BuildKit reports no version and engine $engine < $MIN_ENGINE_MAJOR)"
  else
    version_ge "$bk" "$MIN_BUILDKIT" || echo "BuildKit >= $MIN_BUILDKIT (found $bk)"
  fi
  grep -q 'linux/arm64' <<<"$inspect" || echo "linux/arm64 among the builder's platforms (qemu binfmt)"
  # Loading a multi-platform image (--load) needs the containerd image store.
  docker info --format '{{json .DriverStatus}}' | grep -q 'io.containerd.snapshotter' ||
    echo "the containerd image store (\"features\": {\"containerd-snapshotter\": true} in $DAEMON_JSON)"
}

# ---- installation -----------------------------------------------------------------------------------------
# Download the named packages from Debian trixie (cached under the state dir) and install them with apt, which
# takes their dependencies (containerd, runc, tini, iptables) from the machine's own suite.
install_from_trixie() {
  local d="$COG_CI_STATE/apt-trixie" p debs=() missing=()
  for p in "$@"; do
    compgen -G "$d/debs/${p}_*.deb" >/dev/null || missing+=("$p")
  done
  if ((${#missing[@]})); then
    as_root mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/debs"
    echo "deb $DEBIAN_MIRROR trixie main" | as_root tee "$d/sources.list" >/dev/null
    local opts=(-o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache")
    log "downloading from trixie: ${missing[*]}"
    as_root apt-get "${opts[@]}" update -qq
    # Sandbox user root: the download goes to our private cache dir, which the _apt user may not be able to write.
    (cd "$d/debs" && as_root apt-get "${opts[@]}" -o APT::Sandbox::User=root -qq download "${missing[@]}")
  fi
  for p in "$@"; do debs+=("$(compgen -G "$d/debs/${p}_*.deb" | sort -V | tail -n1)"); done
  log "installing: ${debs[*]##*/}"
  apt_install "${debs[@]}"
}

engine_installed() {
  command -v dockerd >/dev/null 2>&1 || return 1
  local v
  v=$(dockerd --version | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')
  [[ -n $v && $v -ge $MIN_ENGINE_MAJOR ]]
}

# Turn on the containerd image store, keeping whatever else an existing daemon.json says.
write_daemon_json() {
  local current merged
  current=$(as_root cat "$DAEMON_JSON" 2>/dev/null || true)
  merged=$(printf '%s' "$current" | python3 -c '
import json, sys
text = sys.stdin.read().strip()
cfg = json.loads(text) if text else {}
cfg.setdefault("features", {})["containerd-snapshotter"] = True
print(json.dumps(cfg, indent=2))')
  if [[ "$merged" != "$current" ]]; then
    as_root mkdir -p "${DAEMON_JSON%/*}"
    printf '%s\n' "$merged" | as_root tee "$DAEMON_JSON" >/dev/null
    log "wrote $DAEMON_JSON"
  fi
}

start_dockerd() {
  log "starting dockerd (log: $DOCKERD_LOG)"
  as_root bash -c "$(declare -f detached); detached dockerd >>'$DOCKERD_LOG' 2>&1"
  if ! wait_for 60 as_root docker info; then
    as_root tail -n 30 "$DOCKERD_LOG" >&2 || true
    die "dockerd did not answer within 60 s (log above: $DOCKERD_LOG)"
  fi
}

report_ready() {
  log "docker is ready: engine $(docker info --format '{{.ServerVersion}}'), buildx $(docker buildx version | awk '{print $2}')"
}

main() {
  ensure_binfmt
  if docker info >/dev/null 2>&1; then
    docker buildx version >/dev/null 2>&1 || install_from_trixie docker-buildx
    local gaps
    gaps=$(daemon_gaps)
    [[ -z $gaps ]] || die "the running Docker daemon lacks: ${gaps//$'\n'/; }. Upgrade/reconfigure it (or stop it and rerun this script)."
    report_ready
    return 0
  fi

  local pkgs=()
  engine_installed || pkgs+=(docker.io)
  docker buildx version >/dev/null 2>&1 || pkgs+=(docker-buildx)
  command -v docker >/dev/null 2>&1 || pkgs+=(docker-cli)
  # Before installing: a package's maintainer script may start the daemon, and it must start with this config.
  write_daemon_json
  ((${#pkgs[@]} == 0)) || install_from_trixie "${pkgs[@]}"

  as_root docker info >/dev/null 2>&1 || start_dockerd
  if ! docker info >/dev/null 2>&1; then
    as_root usermod -aG docker "$(id -un)" || true
    die "dockerd runs, but $(id -un) may not use its socket: added to group 'docker'; log in again and rerun"
  fi
  local gaps
  gaps=$(daemon_gaps)
  [[ -z $gaps ]] || die "the Docker daemon lacks: ${gaps//$'\n'/; } (log: $DOCKERD_LOG)"
  report_ready
}

main "$@"
