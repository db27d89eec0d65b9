"""Improvement actions: open one from what customers said, list, read and change it. Each write is one
transaction with its feed event (improvement_action.opened / .changed)."""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from services.common.auth import Principal
from services.common.branch_scope import in_reach
from services.common.branches import check_in_reach
from services.common.db import Database
from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.etag import check_version
from services.common.outbox import record_event
from services.common.pagination import newest_first, page_of, time_id_key
from services.feedback.models import CodeEntry, ImprovementAction, Survey, outbox
from services.feedback.schemas.improvements import (
    CauseLink,
    DriverLink,
    ImprovementChange,
    ImprovementCreate,
    ImprovementRead,
)
from services.feedback.service.complaints import iso_time

ACTIVE = ("open", "in_progress")
# Where each status may go; done and cancelled are final.
MOVES = {"open": {"in_progress", "done", "cancelled"}, "in_progress": {"done", "cancelled"}}


def improvement_not_found(action_id: Any) -> NotFound:
    return NotFound(f"No improvement action {action_id}", code="improvement_action_not_found")


def present(a: ImprovementAction, today: date) -> ImprovementRead:
    return ImprovementRead.model_validate({**a.model_dump(), "overdue": a.status in ACTIVE and a.due_on < today})


def _check_links(s: Session, body: ImprovementCreate) -> None:
    """422 naming each link whose cause code, survey or question does not exist."""
    causes = {c for (c,) in s.execute(select(CodeEntry.code).where(CodeEntry.list_name == "cause"))}
    errors = []
    for i, link in enumerate(body.links):
        loc = ["body", "links", i]
        if isinstance(link, CauseLink):
            if link.cause not in causes:
                errors.append({"loc": [*loc, "cause"], "msg": "not a code of the cause list", "type": "code_unknown"})
            continue
        survey = s.execute(
            select(Survey).where(Survey.id == link.survey_id).order_by(col(Survey.version).desc()).limit(1)
        ).scalar_one_or_none()
        if survey is None:
            errors.append({"loc": [*loc, "survey_id"], "msg": "no such survey", "type": "survey_unknown"})
        elif isinstance(link, DriverLink) and not any(
            q["id"] == link.question_id and q["type"] not in ("nps", "free_text") for q in survey.questions
        ):
            errors.append(
                {"loc": [*loc, "question_id"], "msg": "not a closed question of the survey", "type": "question_unknown"}
            )
    if errors:
        raise InvalidInput(errors)


def _event(s: Session, a: ImprovementAction, type_: str, now: datetime, changed: list[str] | None = None) -> None:
    data: dict[str, Any] = {
        "action_id": str(a.id),
        "status": a.status,
        "owner": a.owner,
        "branch_code": a.branch_code,
        "due_on": a.due_on.isoformat(),
        "link_kinds": sorted({link["kind"] for link in a.links}),
        "causes": sorted({link["cause"] for link in a.links if link["kind"] == "complaint_cause"}),
    }
    if changed is not None:
        data["changed"] = changed
    record_event(s, outbox, type=type_, subject_id=str(a.id), occurred_at=now, data={**data, "at": iso_time(now)})


def in_scope(a: ImprovementAction | None, reach: set[str] | None) -> bool:
    """Is the action within the caller's reach (None: every branch)? A bank-wide action (no branch) is
    the head office's."""
    return a is not None and (reach is None or (a.branch_code is not None and a.branch_code in reach))


def require_action(
    s: Session, action_id: uuid.UUID, reach: set[str] | None, *, lock: bool = False
) -> ImprovementAction:
    """The action, 404 when unknown or outside the caller's branch subtree (never 403)."""
    a = s.get(ImprovementAction, action_id, with_for_update=lock)
    if a is None or not in_scope(a, reach):
        raise improvement_not_found(action_id)
    return a


def open_action(
    db: Database, *, body: ImprovementCreate, actor: Principal, now: datetime, reach: set[str] | None = None
) -> ImprovementRead:
    """422 when the due date has passed, a link names nothing known, or the branch is outside the
    caller's subtree (staff and supervisors open actions for a branch of their own subtree)."""
    if reach is not None and body.branch_code is None:
        raise InvalidInput(
            [
                {
                    "loc": ["body", "branch_code"],
                    "msg": "a bank-wide action is the head office's: name a branch of your subtree",
                    "type": "out_of_reach",
                }
            ]
        )
    if reach is not None and body.branch_code is not None:
        check_in_reach(body.branch_code, reach)
    if body.due_on < now.date():
        raise InvalidInput([{"loc": ["body", "due_on"], "msg": "must not be in the past", "type": "date_past"}])
    with db.write() as s:
        _check_links(s, body)
        a = ImprovementAction(
            title=body.title,
            plan=body.plan,
            owner=body.owner,
            branch_code=body.branch_code,
            due_on=body.due_on,
            links=[link.model_dump(mode="json") for link in body.links],
            created_by=actor.sub,
            opened_at=now,
            updated_at=now,
        )
        s.add(a)
        s.flush()
        _event(s, a, "improvement_action.opened", now)
        s.commit()
        return present(a, now.date())


def get_action(
    db: Database, *, action_id: uuid.UUID, today: date, reach: set[str] | None = None
) -> tuple[ImprovementRead, int]:
    """The action and its revision (the ETag)."""
    with db.read() as s:
        a = require_action(s, action_id, reach)
        return present(a, today), a.revision


def list_actions(
    db: Database,
    *,
    status: str | None,
    branch_code: str | None,
    owner: str | None,
    overdue: bool | None,
    today: date,
    limit: int,
    cursor: str | None,
    reach: set[str] | None = None,
) -> tuple[list[ImprovementRead], str | None]:
    """Newest first, of the caller's branch subtree."""
    where: list[ColumnElement[bool]] = [in_reach(ImprovementAction.branch_code, reach)]
    if status is not None:
        where.append(ImprovementAction.status == status)  # type: ignore[arg-type]
    if branch_code is not None:
        where.append(ImprovementAction.branch_code == branch_code)  # type: ignore[arg-type]
    if owner is not None:
        where.append(ImprovementAction.owner == owner)  # type: ignore[arg-type]
    if overdue is not None:
        late = overdue_filter(today)
        where.append(late if overdue else ~late)
    stmt = newest_first(
        select(ImprovementAction).where(*where), ImprovementAction.opened_at, ImprovementAction.id, cursor, limit
    )
    with db.read() as s:
        rows = list(s.execute(stmt).scalars())
    page, next_cursor = page_of(rows, limit, key=time_id_key("opened_at"))
    return [present(a, today) for a in page], next_cursor


def overdue_filter(today: date) -> ColumnElement[bool]:
    return ImprovementAction.status.in_(ACTIVE) & (ImprovementAction.due_on < today)  # type: ignore[attr-defined,operator,return-value]


def count_active(db: Database, *, today: date) -> tuple[int, int]:
    """(actions open or in progress, those of them past their due date): the scrape's gauges."""
    late = overdue_filter(today)
    with db.read() as s:
        row = s.execute(
            select(func.count(), func.coalesce(func.sum(case((late, 1), else_=0)), 0)).where(
                ImprovementAction.status.in_(ACTIVE)  # type: ignore[attr-defined]
            )
        ).one()
    return int(row[0]), int(row[1])


def change_action(
    db: Database,
    *,
    action_id: uuid.UUID,
    body: ImprovementChange,
    expected_revision: int | None,
    now: datetime,
    reach: set[str] | None = None,
) -> tuple[ImprovementRead, int]:
    """Applies the fields sent; 409 improvement_action_final for a done or cancelled action,
    improvement_status_move for a move MOVES does not allow; 422 when done or cancelled lacks an outcome."""
    sent = body.model_dump(exclude_unset=True)
    with db.write() as s:
        a = require_action(s, action_id, reach, lock=True)
        check_version(a.revision, expected_revision)
        if a.status not in MOVES:
            raise Conflict(f"The action is {a.status}; it no longer changes", code="improvement_action_final")
        status = sent.get("status")
        if status is not None and status != a.status:
            if status not in MOVES[a.status]:
                raise Conflict(f"An action that is {a.status} cannot become {status}", code="improvement_status_move")
            if status in ("done", "cancelled") and not (sent.get("outcome") or a.outcome):
                raise InvalidInput(
                    [{"loc": ["body", "outcome"], "msg": f"say what was done to make it {status}", "type": "missing"}]
                )
            if status in ("done", "cancelled"):
                a.finished_at = now
        changed = sorted(k for k, v in sent.items() if getattr(a, k) != v)
        for name in changed:
            setattr(a, name, sent[name])
        if changed:
            a.updated_at = now
            a.revision += 1
            _event(s, a, "improvement_action.changed", now, changed)
        s.commit()
        return present(a, now.date()), a.revision
