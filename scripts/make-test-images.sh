#!/usr/bin/env bash
# Make the images that tests use besides the ones cog builds: the HAProxy load balancer of tests/deploy
# (cog-ci/haproxy, from scripts/images/haproxy/). Needs the base-image stand-ins (make-base-images.sh).
# An image whose org.cog-ci.content label matches its recipe is not rebuilt, so a second run takes about a second.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

CONTENT_LABEL=org.cog-ci.content
IMAGES=(haproxy) # a folder of scripts/images/ each, made into cog-ci/NAME

for name in "${IMAGES[@]}"; do
  context="$here/images/$name"
  key=$(cat "$context"/* | sha256sum | cut -c1-16)
  if [[ $(docker image inspect --format "{{ index .Config.Labels \"$CONTENT_LABEL\" }}" "cog-ci/$name" 2>/dev/null) == "$key" ]]; then
    continue
  fi
  log "building cog-ci/$name"
  docker build --quiet --label "$CONTENT_LABEL=$key" -t "cog-ci/$name" "$context" >/dev/null
done
