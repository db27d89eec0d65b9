"""A person's data as one service holds it (PIPL art. 45, a copy on request): the shape every service's
part of the personal-data export takes, GET /v1/personal-data/{customer_id}, and the access record each
export leaves in the service's own `personal_data_access` table. The gateway assembles the parts."""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, create_model
from sqlalchemy import Column, Index, Integer, MetaData, String, Table, insert, select
from sqlalchemy.orm import Session

from services.common.access import CustomerOrSupervisor
from services.common.audit_chain import Mirror
from services.common.audit_chain import append as append_audit
from services.common.auth import Principal, ensure_own_customer
from services.common.context import current_request_id
from services.common.db import BigIntPK, UTCDateTime
from services.common.deps import Now
from services.common.errors import NotFound, problem_responses
from services.common.responses import model_response

EXPORTED = "personal_data.exported"
PREFIX = "/v1/personal-data"


def personal_data_access_table(metadata: MetaData) -> Table:
    """Who had personal data out of this service, when, under which request; append-only (kept, under
    the pseudonymous id, when the person is erased: it is the record of access). An export names its
    customer; a bulk read (a list of customers) names the list (`what`), how many persons it held and
    the purpose its reader stated, with no customer."""
    return Table(
        "personal_data_access",
        metadata,
        Column("id", BigIntPK, primary_key=True, autoincrement=True),
        Column("customer_id", String(36), nullable=True),
        Column("action", String(40), nullable=False),
        Column("what", String(120), nullable=True),
        Column("persons", Integer, nullable=True),
        Column("purpose", String(40), nullable=True),
        Column("actor_sub", String(100), nullable=False),
        Column("actor_role", String(16), nullable=False),
        Column("request_id", String(128)),
        Column("at", UTCDateTime(), nullable=False),
        Index("ix_personal_data_access_customer_id_id", "customer_id", "id"),
    )


class AccessRecord(BaseModel):
    action: str
    actor_sub: str
    actor_role: str
    request_id: str | None
    at: datetime


def access_mirror(table: Table) -> Mirror:
    """The access records' columns the audit chain copies (all of them: none is ever changed)."""
    return Mirror(
        table, "id", ("id", "customer_id", "action", "what", "persons", "purpose", "actor_sub", "actor_role", "at")
    )


def _record_access(
    s: Session, table: Table, chain: Table, *, action: str, subject: str, actor: Principal, now: datetime, **row: Any
) -> None:
    """One access-log row and its record in the audit chain, in the caller's transaction."""
    values = {
        "action": action,
        "actor_sub": actor.sub,
        "actor_role": actor.role,
        "request_id": current_request_id(),
        "at": now,
        **row,
    }
    row_id = s.execute(insert(table).values(**values).returning(table.c.id)).scalar_one()
    append_audit(
        s,
        chain,
        action=action,
        actor_sub=actor.sub,
        actor_role=actor.role,
        subject=subject,
        at=now,
        detail=access_mirror(table).detail({**values, "id": row_id}),
    )


def record_export(
    s: Session, table: Table, *, customer_id: str, actor: Principal, now: datetime, chain: Table
) -> list[AccessRecord]:
    """Writes, in the caller's transaction, that `actor` exported the customer's data, with its record
    in the service's audit chain; returns the customer's access records with this one, oldest first."""
    _record_access(
        s, table, chain, action=EXPORTED, subject=customer_id, actor=actor, now=now,
        customer_id=customer_id, what=None, persons=1, purpose="data_subject_request",
    )  # fmt: skip
    rows = s.execute(select(table).where(table.c.customer_id == customer_id).order_by(table.c.id)).all()
    return [AccessRecord.model_validate(dict(r._mapping)) for r in rows]


# Why a list of customers is read: stated by the reader on every bulk read (PIPL art. 6, purpose
# limitation), and written with it to the access log.
Purpose = Literal["customer_service", "marketing", "risk_control", "compliance", "analysis"]
PurposeQuery = Annotated[
    Purpose,
    Query(
        description="why the list is read: customer_service, marketing, risk_control, compliance or analysis; "
        "written to the service's access log with the number of persons read"
    ),
]
BULK_READ = "personal_data.bulk_read"


def record_bulk_read(
    s: Session,
    table: Table,
    *,
    what: str,
    persons: int,
    purpose: str,
    actor: Principal,
    now: datetime,
    chain: Table,
) -> None:
    """One access-log row for one page of a list of customers (`what`, e.g. "segment:<id>:members"),
    with its record in the audit chain, in the caller's transaction."""
    _record_access(
        s, table, chain, action=BULK_READ, subject=what[:64], actor=actor, now=now,
        customer_id=None, what=what, persons=persons, purpose=purpose,
    )  # fmt: skip


REVEALED = "personal_data.revealed"


def record_reveal(
    s: Session,
    table: Table,
    *,
    what: str,
    customer_id: str | None,
    purpose: str,
    actor: Principal,
    now: datetime,
    chain: Table,
) -> None:
    """One access-log row for one record read with its personal data in full (`what`, e.g.
    "complaint:<id>", of the customer when it has one), with the purpose its reader stated and its
    record in the audit chain, in the caller's transaction."""
    _record_access(
        s, table, chain, action=REVEALED, subject=customer_id or what[:64], actor=actor, now=now,
        customer_id=customer_id, what=what, persons=1, purpose=purpose,
    )  # fmt: skip


# (app state, customer id, caller, now) -> the service's data about the customer, recorded as exported.
Export = Callable[[Any, uuid.UUID, Principal, datetime], BaseModel]


def personal_data_router(service: str, data_model: type[BaseModel], export: Export) -> APIRouter:
    """GET /v1/personal-data/{customer_id}: the service's part of a person's export, `data_model` under
    the common envelope (service, customer_id, produced_at, data). The gateway calls it with the
    caller's token and does not route it to clients. A customer reaches only itself (404 otherwise);
    a customer the service does not know gets empty data, not a 404: nothing held is an answer."""
    part = create_model(
        f"{service.capitalize()}PersonalDataPart",
        __doc__=f"What the {service} service holds about one person",
        service=(str, ...),
        customer_id=(uuid.UUID, ...),
        produced_at=(datetime, ...),
        data=(data_model, ...),
    )
    router = APIRouter(prefix=PREFIX, tags=["personal data"])

    @router.get(
        "/{customer_id}",
        response_model=part,
        name=f"export_{service}_personal_data",  # operation ids are unique across the suite
        summary="Everything this service holds about the person, for the export (written to the access log)",
        responses=problem_responses(401, 403, 404, 422),
    )
    def export_personal_data(
        request: Request,
        customer_id: Annotated[uuid.UUID, Path(description="The customer's id")],
        principal: CustomerOrSupervisor,
        now: Now,
    ) -> Response:
        ensure_own_customer(principal, str(customer_id), NotFound("No such customer", code="customer_not_found"))
        data = export(request.app.state, customer_id, principal, now)
        body = part(service=service, customer_id=customer_id, produced_at=now, data=data)
        return model_response(body, headers={"Cache-Control": "no-store"})

    return router
