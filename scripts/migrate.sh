#!/usr/bin/env bash
# Applies every service's Alembic migrations to its own database.
set -euo pipefail
cd "$(dirname "$0")/.."
for ini in services/*/alembic.ini; do
  echo "migrating $(basename "$(dirname "$ini")")"
  .venv/bin/alembic -c "$ini" upgrade head
done
