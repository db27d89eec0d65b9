#!/usr/bin/env bash
# Starts every service and the gateway under scripts/supervise.py (Procfile), which restarts a process
# that dies (with backoff, saying which and why); Ctrl-C stops them all.
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
  token:     make token ROLE=staff     (roles: customer staff supervisor admin system; system takes SCOPE="events:read ...")
  events:    served over HTTP${SUITE_NATS_URL:+ and relayed to NATS JetStream (SUITE_NATS_URL)} (docs/events.md)
  Ctrl-C stops everything.

MSG
# A first look should show a working bank: once every service answers, load a starter catalogue, then a
# small synthetic set into an empty database (never into one that has customers). SUITE_DEMO=0 turns
# both off. The loaders run in this process group, so Ctrl-C stops them with the rest.
if [[ "${SUITE_DEMO:-1}" != "0" ]]; then
  mkdir -p data
  (
    gateway="http://127.0.0.1:${port}"
    for _ in $(seq 90); do
      curl -fsS "$gateway/health" >/dev/null 2>&1 && break
      sleep 1
    done
    # The starter catalogue first (earning rules in force for the past year, rewards, a lecture, products,
    # a published survey; each part only where that catalogue is empty), so the demo's transactions earn.
    .venv/bin/python -m gateway.tools.first_look --url "$gateway" >data/first-look.log 2>&1 \
      && echo "  first look: starter catalogue checked (log: data/first-look.log)" \
      || echo "  first look: the starter catalogue could not be loaded (log: data/first-look.log)"
    .venv/bin/python -m services.profile.tools.demo --n "${SUITE_DEMO_SIZE:-200}" --if-empty \
      --url "http://127.0.0.1:${PROFILE_PORT:-8001}" >data/demo.log 2>&1 \
      && echo "  demo data: loaded into an empty profile (log: data/demo.log)"
  ) &
fi
processes=()
if [[ -n "${SUITE_SERVICES:-}" ]]; then
  processes=(${SUITE_SERVICES//,/ } gateway)
fi
exec .venv/bin/python scripts/supervise.py Procfile "${processes[@]}"
