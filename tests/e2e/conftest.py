"""Real processes through the gateway: profile on a fresh SQLite file migrated with its Alembic CLI,
and the gateway pointing at it, each a uvicorn on a free port; stopped at teardown, whatever happens."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.common.config import DEV_JWT_SECRET
from tests.dbkit import fresh_pg_database, require_postgres, worker_id
from tests.organisation import COPIES, seed_organisation

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent  # .venv/bin under `make test`
START_TIMEOUT = 30.0
# Set explicitly for every process, so a developer's own environment cannot leak into the suite.
_OWN_PREFIXES = ("PROFILE_", "GATEWAY_", "SEGMENTATION_", "FEEDBACK_", "LOYALTY_", "SUITE_")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    # peers a test does not name are looked for on the run's unused ports (tests/conftest.py)
    return {**env, "SUITE_PORT_BASE": os.environ["SUITE_PORT_BASE"], **values}


class Process:
    """One uvicorn serving `factory` on a fixed port, started as the suite starts it (services.common.serve);
    can be stopped and started again on it."""

    def __init__(
        self,
        name: str,
        factory: str,
        env: dict[str, str],
        log_path: Path,
        preexec: Callable[[], None] | None = None,
    ):
        self.preexec = preexec  # run in the child before it starts (resource limits)
        self.name = name
        self.factory = factory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def spawn(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(BIN / "python"),
                    "-m",
                    "services.common.serve",
                    self.factory,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--no-access-log",
                    "--timeout-graceful-shutdown",
                    "2",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=self.preexec,  # noqa: PLW1509 - only resource limits, set before exec
            )

    def wait_live(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/health/live", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not live within {START_TIMEOUT} s:\n{self.log_tail()}")

    def start(self) -> None:
        self.spawn()
        self.wait_live()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""


def profile_only_gateway(profile: Process, log_path: Path, **env: str) -> Process:
    """The gateway in front of `profile` alone (the other services not configured), with `env` added."""
    return Process(
        "gateway",
        "gateway.app:create_app",
        base_env(
            GATEWAY_PROFILE_URL=profile.url,
            GATEWAY_SEGMENTATION_URL="",
            GATEWAY_FEEDBACK_URL="",
            GATEWAY_LOYALTY_URL="",
            **env,
        ),
        log_path,
    )


@dataclass
class Suite:
    profile: Process
    gateway: Process


def migrate_service(service: str, database_url: str) -> None:
    """Runs the service's Alembic migrations to head on `database_url`, as `make migrate` does."""
    subprocess.run(
        [str(BIN / "alembic"), "-c", f"services/{service}/alembic.ini", "upgrade", "head"],
        cwd=ROOT,
        env=base_env(**{f"{service.upper()}_DATABASE_URL": database_url}),
        check=True,
        capture_output=True,
        timeout=120,
    )
    if service == "profile" or service in COPIES:  # the tests' tree, and each other service's copy of it
        seed_organisation(database_url, service)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def suite(request, tmp_path) -> Iterator[Suite]:
    """Profile and the gateway, live, on SQLite and on PostgreSQL (the production-like mode); the
    test may stop and start profile (same port, same database)."""
    database_url = profile_database(request.param, tmp_path, "test_e2e_profile")
    profile = profile_process(database_url, tmp_path / "profile.log")
    gateway = profile_gateway(profile, tmp_path / "gateway.log")
    with running(profile, gateway):
        yield Suite(profile=profile, gateway=gateway)


def profile_database(kind: str, tmp_path: Path, pg_name: str) -> str:
    """A profile database migrated to head: a SQLite file in `tmp_path`, or (kind "postgres") a fresh
    PostgreSQL database named `<pg_name>_<worker>`."""
    if kind == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'profile.db'}"
    else:
        require_postgres()
        database_url = fresh_pg_database(f"{pg_name}_{worker_id()}")
    migrate_service("profile", database_url)
    return database_url


def profile_process(database_url: str, log_path: Path, **env: str) -> Process:
    """Profile on `database_url` (migrated already), with the test settings and `env`; not started."""
    return Process(
        "profile",
        "services.profile.app:create_app",
        base_env(
            PROFILE_DATABASE_URL=database_url,
            PROFILE_ENVIRONMENT="test",
            PROFILE_LOG_LEVEL="WARNING",
            PROFILE_JWT_SECRET=DEV_JWT_SECRET,
            **env,
        ),
        log_path,
    )


def profile_gateway(profile: Process, log_path: Path, **env: str) -> Process:
    """The gateway in front of `profile` alone, with the test settings and `env`; not started."""
    return profile_only_gateway(
        profile,
        log_path,
        GATEWAY_ENVIRONMENT="test",
        GATEWAY_LOG_LEVEL="WARNING",
        GATEWAY_JWT_SECRET=DEV_JWT_SECRET,
        **env,
    )


@contextmanager
def running(*procs: Process) -> Iterator[None]:
    """Every process started (all spawned, then each awaited live), and stopped in reverse order."""
    try:
        for proc in procs:
            proc.spawn()
        for proc in procs:
            proc.wait_live()
        yield
    finally:
        for proc in reversed(procs):
            proc.stop()


STANDIN_SERVICES = ("segmentation", "loyalty", "feedback")
CORS_ORIGIN = "https://branch-app.example.cn"


@dataclass
class ClientSuite:
    """The real profile, stand-ins for the services still being built, and a gateway over all four."""

    profile: Process
    standins: dict[str, Process]
    gateway: Process
    tmp_path: Path

    def service(self, name: str) -> Process:
        return self.profile if name == "profile" else self.standins[name]

    def gateway_env(self, **values: str) -> dict[str, str]:
        urls = {f"GATEWAY_{name.upper()}_URL": proc.url for name, proc in self.standins.items()}
        return base_env(
            GATEWAY_PROFILE_URL=self.profile.url,
            GATEWAY_ENVIRONMENT="test",
            GATEWAY_LOG_LEVEL="WARNING",
            GATEWAY_JWT_SECRET=DEV_JWT_SECRET,
            **urls,
            **values,
        )


@pytest.fixture(scope="module")
def client_suite(tmp_path_factory) -> Iterator[ClientSuite]:
    """Every process live, shared by a module's tests (starting six processes is the slow part): a
    test that stops a process starts it again, and uses its own callers and paths, so the gateway's
    per-caller and per-upstream state never leaks into the next. The gateway has short budgets and
    cool-downs so that tests see them act, and a CORS allow-list with one origin."""
    tmp_path = tmp_path_factory.mktemp("clients")
    database_url = f"sqlite:///{tmp_path / 'profile.db'}"
    migrate_service("profile", database_url)
    profile = Process(
        "profile",
        "services.profile.app:create_app",
        base_env(
            PROFILE_DATABASE_URL=database_url,
            PROFILE_ENVIRONMENT="test",
            PROFILE_LOG_LEVEL="WARNING",
            PROFILE_JWT_SECRET=DEV_JWT_SECRET,
        ),
        tmp_path / "profile.log",
    )
    standins = {
        name: Process(
            name, "tests.gateway.standins:create_standin", base_env(STANDIN_SERVICE=name), tmp_path / f"{name}.log"
        )
        for name in STANDIN_SERVICES
    }
    suite = ClientSuite(profile, standins, None, tmp_path)  # type: ignore[arg-type]
    suite.gateway = Process(
        "gateway",
        "gateway.app:create_app",
        suite.gateway_env(
            GATEWAY_OVERVIEW_BUDGET_SECONDS="3",
            GATEWAY_BREAKER_FAILURE_THRESHOLD="3",
            GATEWAY_BREAKER_RESET_SECONDS="1",
            GATEWAY_RATE_LIMIT_BULK="2/day",
            GATEWAY_MAX_BODY_BYTES="4096",
            GATEWAY_CORS_ORIGINS=CORS_ORIGIN,
            GATEWAY_OPENAPI_CACHE_SECONDS="0.5",
        ),
        tmp_path / "gateway.log",
    )
    with running(profile, *standins.values(), suite.gateway):
        yield suite
