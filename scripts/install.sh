#!/usr/bin/env bash
# Install everything idp needs into .venv and node_modules (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
if [ ! -f node_modules/@gouvfr/dsfr/dist/dsfr.min.css ] || [ ! -f node_modules/zxcvbn/dist/zxcvbn.js ] \
  || [ ! -f node_modules/axe-core/axe.min.js ]; then
  # DSFR's preinstall script refuses a plain install; the lock file pins it.
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi
if [ "${WITH_BROWSER:-0}" = "1" ] && [ ! -x /usr/bin/chromium ]; then
  # Browser tests drive Debian's Chromium; never a downloaded browser.
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null
  fi
fi
if [ "${WITH_WRK:-0}" = "1" ] && ! command -v wrk >/dev/null; then
  # The benchmark's load generator (bench/README.md); it falls back to Python without it.
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null
  fi
fi
.venv/bin/pybabel -q compile -d idp/translations
