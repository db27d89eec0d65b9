"""The Dockerfile: hadolint finds nothing, it is multi-stage with a slim, non-root final stage and no
build tools there; .dockerignore keeps the context to the code. Docker itself is not available here,
so the test runs the Dockerfile's own assembly step (the RUN that builds /app) into a temporary
directory and starts the entry point from it, isolated from the checkout: each process migrates and
serves from exactly what its image would hold."""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.deploy.tools import require_binary
from tests.e2e.conftest import base_env, free_port

ROOT = Path(__file__).parents[2]
DOCKERFILE = ROOT / "Dockerfile"
BUILD_TOOLS = ("gcc", "build-essential", "apt-get install", "cc ", "make ")
# Imported first by every Python process of the simulated image: drops the checkout's editable-install
# finder, so a module missing from the image cannot be found in the checkout instead.
SITECUSTOMIZE = """import sys
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
"""


def stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), split by FROM."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    result: list[list[str]] = []
    for line in lines:
        if line.startswith("FROM "):
            result.append([])
        if result:
            result[-1].append(line)
    return result


def test_hadolint_clean():
    hadolint = shutil.which("hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if hadolint is None:
        hadolint = require_binary("hadolint", None)
    done = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_multistage_slim_nonroot_no_build_tools_in_final_stage():
    build, final = stages()
    assert "AS build" in build[0] and "AS runtime" in final[0]
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in DOCKERFILE.read_text()
    assert [i for i in final if i.startswith("USER ")] == ["USER 10001:10001"]
    assert not any(tool in instruction for instruction in final for tool in BUILD_TOOLS)
    assert any(i.startswith("COPY --from=build /opt/venv") for i in final)
    assert final[-2:] == ['ENTRYPOINT ["/app/entrypoint.sh"]', 'CMD ["serve"]']


def test_dockerignore_keeps_only_code():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("*")] == "*"  # everything out, then the allow-list
    allowed = {line[1:] for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "services/", "gateway/", "deploy/docker/entrypoint.sh"}


def assemble(service: str, tmp_path: Path) -> Path:
    """Runs the Dockerfile's /app assembly RUN in a copy of the build context; returns the /app stand-in."""
    (build,) = [i for i in stages()[0] if i.startswith("RUN mkdir -p /app")]
    src, app = tmp_path / "src", tmp_path / "app"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.db", "*.db-wal", "*.db-shm")
    shutil.copytree(ROOT / "services", src / "services", ignore=ignore)
    shutil.copytree(ROOT / "gateway", src / "gateway", ignore=ignore)
    shutil.copy(ROOT / "deploy" / "docker" / "entrypoint.sh", src / "entrypoint.sh")
    script = (
        build.removeprefix("RUN ")
        .replace("/opt/venv/bin/python", sys.executable)
        .replace(" /opt/venv", f" {tmp_path / 'venv-stand-in'}")
        .replace("/app", str(app))
    )
    (tmp_path / "venv-stand-in").mkdir()
    done = subprocess.run(
        ["sh", "-c", script],
        cwd=src,
        env={**os.environ, "SERVICE": service},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return app


def image_env(service: str, app: Path, tmp_path: Path, **values: str) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return base_env(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        PYTHONPATH=f"{site}{os.pathsep}{app}",
        SUITE_PROCESS=service,
        PYTHONDONTWRITEBYTECODE="1",
        **values,
    )


def runnable() -> list[str]:
    procfile = {line.split(":", 1)[0] for line in (ROOT / "Procfile").read_text().splitlines() if ":" in line}
    return ["gateway", *sorted(i.parent.name for i in ROOT.glob("services/*/alembic.ini") if i.parent.name in procfile)]


@pytest.mark.parametrize("service", runnable())
def test_image_layout_holds_only_its_process_and_migrates_and_serves(service, tmp_path):
    app = assemble(service, tmp_path)
    held = sorted(p.name for p in (app / "services").iterdir() if p.is_dir() and p.name != "__pycache__")
    assert held == (["common"] if service == "gateway" else sorted(["common", service]))
    assert (app / "gateway").exists() == (service == "gateway")
    assert os.access(app / "entrypoint.sh", os.X_OK)
    up = service.upper()
    env = image_env(
        service,
        app,
        tmp_path,
        **{
            f"{up}_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            f"{up}_ENVIRONMENT": "test",
            f"{up}_LOG_LEVEL": "WARNING",
        },
    )
    entrypoint = str(app / "entrypoint.sh")
    if service == "gateway":
        refused = subprocess.run(
            [entrypoint, "migrate"], cwd=app, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert refused.returncode == 2 and "no database" in refused.stderr
        isolated = subprocess.run(
            [sys.executable, "-c", "import services.profile"],
            cwd=app,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert isolated.returncode != 0 and "ModuleNotFoundError" in isolated.stderr
    else:
        migrated = subprocess.run(
            [entrypoint, "migrate"], cwd=app, env=env, capture_output=True, text=True, timeout=180, check=False
        )
        assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [entrypoint], cwd=app, env={**env, "PORT": str(port)}, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline, ready = time.monotonic() + 60, None
        while time.monotonic() < deadline and ready is None:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2)
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, log.read_text()[-3000:]
        assert "http_requests_total" in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
