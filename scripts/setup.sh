#!/usr/bin/env bash
# Set up everything the test suite and the README's main job need on a fresh Debian/Ubuntu machine: a Docker
# daemon with buildx/BuildKit and qemu (setup-docker.sh), the local test registries (setup-registry.sh), the
# offline base-image stand-ins (make-base-images.sh) and the images tests use beside them (make-test-images.sh).
# Idempotent; a second run takes a few seconds.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

# Everything the steps install from the machine's own apt suite, in one apt-get call on a fresh machine.
# chromium, chromium-driver and firefox-esr: the real browsers of the web pages' tests (tests/web; Firefox is driven
# over its own WebDriver BiDi agent, as Debian has no geckodriver); iproute2: `ip link set lo up` in the network
# namespaces of tests/contracts.
ensure_pkgs qemu-user-static binfmt-support docker-registry apache2-utils curl debootstrap ca-certificates \
  chromium chromium-driver firefox-esr iproute2

elapsed() { awk -v now="$EPOCHREALTIME" -v t0="$1" 'BEGIN { printf "%.1f", now - t0 }'; }

summary=()
start=$EPOCHREALTIME
for step in setup-docker setup-registry make-base-images make-test-images; do
  t0=$EPOCHREALTIME
  "$here/$step.sh"
  summary+=("$(printf '  %-20s %6s s' "$step" "$(elapsed "$t0")")")
done
printf 'cog-ci setup done (state: %s)\n' "$COG_CI_STATE"
printf '%s\n' "${summary[@]}"
printf '  %-20s %6s s\n' total "$(elapsed "$start")"
