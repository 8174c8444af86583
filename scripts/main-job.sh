#!/usr/bin/env bash
# The main job on a fresh Debian/Ubuntu machine: set everything up, build examples/hello-world into an image
# and run a prediction against it. Idempotent; the second run reuses the environment and the layer cache.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/dev-env.sh
scripts/setup.sh
# Behind a TLS-intercepting proxy, builds need the machine's CA bundle (never stored in the image).
if [ -z "${COG_CA_BUNDLE:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export COG_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
fi
cd examples/hello-world
exec ../../.venv/bin/cog predict -i text=world
