#!/bin/sh
# The container's entry point. SUITE_PROCESS (set at build time from the SERVICE build argument) says
# which process this image is: gateway, profile, segmentation, feedback or loyalty.
#   entrypoint.sh          serve it with uvicorn on 0.0.0.0:$PORT (default: the process's own port)
#   entrypoint.sh migrate  apply its Alembic migrations once and exit (compose's migrate-*, the k8s Job)
set -eu
case "$SUITE_PROCESS" in
  gateway) factory=gateway.app:create_app; default_port=8000 ;;
  profile) factory=services.profile.app:create_app; default_port=8001 ;;
  segmentation) factory=services.segmentation.app:create_app; default_port=8002 ;;
  feedback) factory=services.feedback.app:create_app; default_port=8003 ;;
  loyalty) factory=services.loyalty.app:create_app; default_port=8004 ;;
  *) echo "unknown SUITE_PROCESS '$SUITE_PROCESS'" >&2; exit 2 ;;
esac
case "${1:-serve}" in
  serve)
    # One process per container: replicas scale it, and uvloop avoids the --workers keep-alive trap.
    # services.common.serve is uvicorn sending what a response writes at once in one write.
    exec python -m services.common.serve "$factory" --host 0.0.0.0 --port "${PORT:-$default_port}" \
      --no-access-log --timeout-graceful-shutdown 20 --timeout-keep-alive 5
    ;;
  migrate)
    if [ "$SUITE_PROCESS" = gateway ]; then echo "the gateway has no database" >&2; exit 2; fi
    exec alembic -c "services/$SUITE_PROCESS/alembic.ini" upgrade head
    ;;
  *) exec "$@" ;;
esac
