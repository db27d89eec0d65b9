# syntax=docker/dockerfile:1
# One image per process of the suite, chosen by a build argument:
#   docker build --build-arg SERVICE=profile -t postal-savings/profile:0.1.0 .
# SERVICE is gateway, profile, segmentation, feedback or loyalty. The final stage is python:slim with
# the virtualenv and only that process's code (plus services/common); it runs as uid 10001, needs no
# writable root filesystem (bytecode is compiled at build time; mount /tmp), and holds no compiler.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN test -n "$SERVICE" || (echo "build with --build-arg SERVICE=<gateway|profile|segmentation|feedback|loyalty>" >&2; exit 1)
COPY pyproject.toml ./
# Dependencies only (every one ships manylinux wheels, so no compiler is needed even here).
RUN python -m venv /opt/venv \
 && python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
 && /opt/venv/bin/pip install --no-compile -r requirements.txt
COPY services ./services
COPY gateway ./gateway
COPY deploy/docker/entrypoint.sh ./entrypoint.sh
# /app holds services/common and the one process's own package, nothing else.
RUN mkdir -p /app/services \
 && cp services/__init__.py /app/services/ \
 && cp -r services/common /app/services/common \
 && if [ "$SERVICE" = gateway ]; then cp -r gateway /app/gateway; \
    else test -f "services/$SERVICE/alembic.ini" && cp -r "services/$SERVICE" "/app/services/$SERVICE"; fi \
 && install -m 0555 entrypoint.sh /app/entrypoint.sh \
 && find /app -name __pycache__ -prune -exec rm -rf {} + \
 && /opt/venv/bin/python -m compileall -q /app /opt/venv

FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
LABEL org.opencontainers.image.title="postal-savings-${SERVICE}" \
      org.opencontainers.image.description="Postal Savings Customer Management Suite: ${SERVICE}"
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=root:root /app /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SUITE_PROCESS=${SERVICE}
WORKDIR /app
USER 10001:10001
EXPOSE 8000 8001 8002 8003 8004
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('PORT', {'gateway': 8000, 'profile': 8001, 'segmentation': 8002, 'feedback': 8003, 'loyalty': 8004}[os.environ['SUITE_PROCESS']]), timeout=2)"]
ENTRYPOINT ["/app/entrypoint.sh"]
CMD ["serve"]
