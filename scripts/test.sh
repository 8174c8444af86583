#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh Debian/Ubuntu machine and runs the whole suite.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/compiler -x).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/dev-env.sh test
scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
