"""/health/live (the process answers) and /health/ready (database, migration head, consumer lag)."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from services.common.db import Database

ReadyCheck = Callable[[], tuple[bool, str]]


class HealthStatus(BaseModel):
    status: str
    checks: dict[str, str] = {}


@dataclass(frozen=True)
class MigrationState:
    heads: frozenset[str]
    known: frozenset[str]  # every revision this code ships


def migration_heads(alembic_ini: Path) -> MigrationState:
    cfg = Config(str(alembic_ini))
    cfg.set_main_option("script_location", str(alembic_ini.parent / "migrations"))
    script = ScriptDirectory.from_config(cfg)
    return MigrationState(frozenset(script.get_heads()), frozenset(r.revision for r in script.walk_revisions()))


def database_checks(db: Database, state: MigrationState) -> dict[str, ReadyCheck]:
    def database() -> tuple[bool, str]:
        with db.read() as s:
            s.execute(text("SELECT 1"))
        return True, "reachable"

    def migrations() -> tuple[bool, str]:
        with db.read() as s:
            current = {r[0] for r in s.execute(text("SELECT version_num FROM alembic_version"))}
        if current == state.heads:
            return True, "at head"
        if current and not current <= state.known:
            # A revision this code does not know was applied by a newer release's migration job:
            # additive migrations keep the old code working while the rollout completes.
            return True, f"ahead of this release's head ({sorted(current)})"
        return False, f"at {sorted(current) or 'nothing'}, head is {sorted(state.heads)}"

    def writes() -> tuple[bool, str]:
        return db.write_health.check(db)

    return {"database": database, "migrations": migrations, "writes": writes}


def health_router() -> APIRouter:
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get("/live", response_model=HealthStatus)
    async def live() -> HealthStatus:
        return HealthStatus(status="ok")

    @router.get("/ready", response_model=HealthStatus, responses={503: {"model": HealthStatus}})
    def ready(request: Request) -> HealthStatus | JSONResponse:
        results, ok = {}, True
        for name, check in request.app.state.ready_checks.items():
            try:
                passed, detail = check()
            except Exception as err:  # noqa: BLE001 - any failure means not ready; the reason is its class
                passed, detail = False, f"failed: {type(err).__name__}"
            results[name] = detail
            ok = ok and passed
        body = HealthStatus(status="ok" if ok else "unavailable", checks=results)
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    return router
