#!/usr/bin/env bash
# Install everything, then run idp with demo data, the demo portals and a mail catcher.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/python -m demo "$@"
