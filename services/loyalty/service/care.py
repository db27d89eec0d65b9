"""Care: what loyalty knows of a customer for caring (branch, relationship manager, app push), the care
tasks that reminders become for the manager, and the notifications the suitable ones also make for
the customer. Reminders come from profile's feed (care.reminder_due) and from loyalty's own job
(points expiring); each occasion's key makes at most one task and one notification."""

import uuid
from datetime import date, datetime, time, tzinfo
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.common.auth import Principal
from services.common.db import Database, upsert_insert
from services.common.errors import Conflict, NotFound
from services.common.pagination import oldest_first, page_of, time_id_key
from services.loyalty.models import CARE_KINDS, CareCustomer, CareTask
from services.loyalty.service.notifications import notify

KINDS = frozenset(CARE_KINDS)
# What the customer is told of an occasion (the manager's task says the rest); a dormant customer is not told.
CUSTOMER_MESSAGES: dict[str, tuple[str, str]] = {
    "birthday": ("生日快乐", "祝您生日快乐！感谢您一直以来对邮储银行的信任与支持。"),
    "deposit_maturity": (
        "存款即将到期",
        "您的一笔存款将于 {due_on} 到期，客户经理将与您联系，为您安排续存或其他理财。",
    ),
    "risk_expiry": (
        "风险测评即将过期",
        "您的风险承受能力测评将于 {due_on} 到期，请及时重新测评，以免影响理财产品购买。",
    ),
    "agreement_renewal": ("协议即将到期", "您签署的服务协议将于 {due_on} 到期，请及时续签。"),
    "points_expiring": ("积分即将过期", "您有 {points} 积分将于 {due_on} 过期，请尽快兑换。"),
}


def task_not_found(task_id: uuid.UUID) -> NotFound:
    return NotFound(f"No care task {task_id}", code="care_task_not_found")


def _care_customer(s: Session, customer_id: uuid.UUID, now: datetime, **values: Any) -> None:
    first = {"has_app_push": False, **values}  # a customer first seen: no push until consent says so
    stmt = upsert_insert(s)(CareCustomer).values(customer_id=customer_id, updated_at=now, **first)
    s.execute(stmt.on_conflict_do_update(index_elements=["customer_id"], set_={**values, "updated_at": now}))


def set_branch(s: Session, customer_id: uuid.UUID, branch_code: str, now: datetime) -> None:
    _care_customer(s, customer_id, now, branch_code=branch_code)
    s.execute(
        update(CareTask)
        .where(CareTask.customer_id == customer_id, CareTask.status == "open")
        .values(branch_code=branch_code)
    )


def set_app_push(s: Session, customer_id: uuid.UUID, allowed: bool, now: datetime) -> None:
    _care_customer(s, customer_id, now, has_app_push=allowed)


def assign_manager(s: Session, customer_id: uuid.UUID, manager_id: str, branch_code: str, now: datetime) -> None:
    """The customer's new manager; the customer's open tasks move to them."""
    _care_customer(s, customer_id, now, manager_id=manager_id, manager_branch_code=branch_code)
    s.execute(
        update(CareTask)
        .where(CareTask.customer_id == customer_id, CareTask.status == "open")
        .values(manager_id=manager_id)
    )


def start_of(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(9), zone)  # the bank's morning of that day


def remind(
    s: Session,
    *,
    customer_id: uuid.UUID,
    key: str,
    kind: str,
    due_at: datetime,
    now: datetime,
    zone: tzinfo,
    reference: str | None = None,
    branch_code: str | None = None,
    facts: dict[str, Any] | None = None,
) -> bool:
    """A care task for the customer's manager (unassigned until one is) and, for a kind the customer is
    told of, a notification; both once per occasion `key`. Returns whether the task is new."""
    known = s.execute(select(CareCustomer).where(CareCustomer.customer_id == customer_id)).scalar_one_or_none()
    stmt = (
        upsert_insert(s)(CareTask)
        .values(
            id=uuid.uuid4(),
            occasion_key=key,
            customer_id=customer_id,
            kind=kind,
            reference=reference,
            manager_id=known.manager_id if known else None,
            branch_code=(known.branch_code if known else None) or branch_code,
            due_at=due_at,
            status="open",
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["occasion_key"])
        .returning(CareTask.id)  # type: ignore[arg-type]
    )
    added = s.execute(stmt).first() is not None
    if kind in CUSTOMER_MESSAGES:
        title, body = CUSTOMER_MESSAGES[kind]
        values = {"due_on": due_at.astimezone(zone).date().isoformat(), **(facts or {})}
        notify(
            s,
            customer_id=customer_id,
            key=key,
            kind=kind,
            title=title,
            body=body.format(**values),
            now=now,
            data={"reference": reference, **values},
        )
    return added


def list_tasks(
    db: Database,
    *,
    reach: set[str] | None,
    manager_id: str | None,
    customer_id: uuid.UUID | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[CareTask], str | None]:
    """Tasks soonest due first, within `reach` (None: every branch)."""
    stmt = select(CareTask)
    if reach is not None:
        stmt = stmt.where(CareTask.branch_code.in_(reach))  # type: ignore[union-attr]
    if manager_id is not None:
        stmt = stmt.where(CareTask.manager_id == manager_id)
    if customer_id is not None:
        stmt = stmt.where(CareTask.customer_id == customer_id)
    if status is not None:
        stmt = stmt.where(CareTask.status == status)
    with db.read() as s:
        rows = list(s.execute(oldest_first(stmt, CareTask.due_at, CareTask.id, cursor, limit)).scalars())
    return page_of(rows, limit, key=time_id_key("due_at"))


def close_task(
    db: Database,
    *,
    task_id: uuid.UUID,
    outcome: Literal["completed", "dismissed"],
    note: str | None,
    actor: Principal,
    reach: set[str] | None,
    now: datetime,
) -> CareTask:
    """Completes or dismisses an open task; 404 out of reach, 409 care_task_closed when already closed."""
    with db.write() as s:
        task = s.get(CareTask, task_id, with_for_update=True)
        if task is None or (reach is not None and task.branch_code not in reach):
            raise task_not_found(task_id)
        if task.status != "open":
            raise Conflict(f"The care task is already {task.status}", code="care_task_closed")
        task.status, task.note, task.closed_by, task.closed_at = outcome, note, actor.sub, now
        s.flush()
        s.commit()
        s.refresh(task)
        return task


def due_at_of(day: str, zone: tzinfo) -> datetime:
    return start_of(date.fromisoformat(day), zone)
