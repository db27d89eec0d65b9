#!/usr/bin/env bash
# Applies every service's Alembic migrations to its own database (DB=postgres: see db-env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/db-env.sh
if [[ -n "${SUITE_SERVICES:-}" ]]; then
  inis=()
  for name in ${SUITE_SERVICES//,/ }; do inis+=("services/$name/alembic.ini"); done
else
  inis=(services/*/alembic.ini)
fi
for ini in "${inis[@]}"; do
  echo "migrating $(basename "$(dirname "$ini")")"
  .venv/bin/alembic -c "$ini" upgrade head
done
