#!/usr/bin/env bash
# Starts every service and the gateway under honcho (Procfile); Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${GATEWAY_PORT:-8000}"
cat <<MSG

  Postal Savings Customer Management Suite
  gateway:   http://127.0.0.1:${port}/api/v1/...
  API docs:  http://127.0.0.1:${port}/api/docs
  health:    http://127.0.0.1:${port}/health
  token:     make token ROLE=staff     (roles: customer staff supervisor admin system)
  Ctrl-C stops everything.

MSG
exec .venv/bin/honcho start -f Procfile
