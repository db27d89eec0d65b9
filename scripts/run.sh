#!/usr/bin/env bash
# Starts every service and the gateway under honcho (Procfile); Ctrl-C stops them all.
# DB=postgres runs them on PostgreSQL, one database per service (db-env.sh); SUITE_SERVICES=profile,...
# starts only those services and the gateway.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/db-env.sh
port="${GATEWAY_PORT:-8000}"
cat <<MSG

  Postal Savings Customer Management Suite (database: ${DB:-sqlite})
  gateway:   http://127.0.0.1:${port}/api/v1/...
  API docs:  http://127.0.0.1:${port}/api/docs
  health:    http://127.0.0.1:${port}/health
  token:     make token ROLE=staff     (roles: customer staff supervisor admin system)
  Ctrl-C stops everything.

MSG
processes=()
if [[ -n "${SUITE_SERVICES:-}" ]]; then
  processes=(${SUITE_SERVICES//,/ } gateway)
fi
exec .venv/bin/honcho start -f Procfile "${processes[@]}"
