#!/usr/bin/env bash
# Install everything, then run the whole suite on SQLite (with coverage) and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_BROWSER=1 scripts/install.sh
. .venv/bin/activate
PG_URL=${IDP_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "PostgreSQL is down: starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
ruff check idp tests demo bench
echo "== SQLite (with browser tests, branch coverage) =="
python -m pytest -q -p no:cacheprovider --cov=idp --cov-branch --cov-report=term --cov-fail-under=90 tests "$@"
echo "== PostgreSQL =="
IDP_TEST_DATABASE_URL="$PG_URL" python -m pytest -q -p no:cacheprovider -m "not e2e" tests "$@"
