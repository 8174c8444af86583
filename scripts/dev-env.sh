#!/usr/bin/env bash
# Creates (or refreshes) the project's virtualenv in .venv with cog installed editable.
#   scripts/dev-env.sh          cog alone (what the main job needs)
#   scripts/dev-env.sh test     cog and its test tools
# Idempotent: a second run only checks the stamp. Needs python3 >= 3.10 with venv.
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-}

python=${PYTHON:-python3}
if ! "$python" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -qqy --no-install-recommends python3 python3-venv python3-pip >/dev/null
  fi
  "$python" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' \
    || { echo "error: cog needs Python 3.10+ with the venv module (apt-get install python3-venv)" >&2; exit 1; }
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
# The stamp names what was installed; installing more (or a newer pyproject.toml) refreshes it.
stamp=.venv/.cog-installed-${extras:-base}
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras:+[$extras]}"
  touch "$stamp"
fi
