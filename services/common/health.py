"""/health/live (the process answers) and /health/ready (database, migration head, consumer lag)."""

import ast
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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


def _assigned(tree: ast.Module, name: str) -> object:
    """The literal a module assigns to `name` at its top level (`name = ...` or `name: T = ...`)."""
    for node in tree.body:
        target: ast.expr
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == name:
            return ast.literal_eval(value)
    return None


def migration_heads(alembic_ini: Path) -> MigrationState:
    """The revisions this code ships and its heads, read from the revision files' `revision` and
    `down_revision` literals rather than through Alembic, which a serving process would otherwise keep
    in memory (about 8 MB) for this one question; a test compares the answer with Alembic's."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (alembic_ini.parent / "migrations" / "versions").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        revision, down = _assigned(tree, "revision"), _assigned(tree, "down_revision")
        if isinstance(revision, str):
            revisions.add(revision)
            parents.update([down] if isinstance(down, str) else list(down) if isinstance(down, tuple | list) else [])
    return MigrationState(frozenset(revisions - parents), frozenset(revisions))


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
