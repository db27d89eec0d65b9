#!/usr/bin/env bash
# Checks every service's audit chain in the databases `make run` uses (DB, SUITE_PORT_BASE and each
# <SERVICE>_DATABASE_URL as in db-env.sh); exit 1 when any chain is broken, each service named.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/db-env.sh
rc=0
for name in profile segmentation feedback loyalty; do
  .venv/bin/python -m "services.${name}.tools.audit" verify || rc=1
done
exit "$rc"
