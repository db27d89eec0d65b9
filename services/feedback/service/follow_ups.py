"""Follow-up tasks for detractor answers: list them and record their outcome."""

import uuid
from typing import Any

from sqlalchemy import select

from services.common.auth import Principal
from services.common.db import Database
from services.common.errors import Conflict, NotFound
from services.common.pagination import decode_time_id, page_of
from services.feedback.models import (
    FollowUp,
)
from services.feedback.schemas.surveys import (
    FollowUpOutcome,
)
from services.feedback.service.surveys import SurveyContext


def follow_up_not_found(follow_up_id: Any) -> NotFound:
    return NotFound(f"No follow-up {follow_up_id}", code="follow_up_not_found")


def list_follow_ups(
    db: Database, *, branch_code: str | None, status: str | None, limit: int, cursor: str | None
) -> tuple[list[FollowUp], str | None]:
    """By due time, soonest first."""
    after = decode_time_id(cursor)
    stmt = select(FollowUp).order_by(FollowUp.due_at, FollowUp.id).limit(limit + 1)
    if branch_code is not None:
        stmt = stmt.where(FollowUp.branch_code == branch_code)
    if status is not None:
        stmt = stmt.where(FollowUp.status == status)
    if after is not None:
        at, fid = after
        stmt = stmt.where((FollowUp.due_at > at) | ((FollowUp.due_at == at) & (FollowUp.id > fid)))
    with db.read() as s:
        rows = list(s.execute(stmt).scalars())
    return page_of(rows, limit, key=lambda f: [f.due_at.isoformat(), str(f.id)])


def record_follow_up(
    db: Database, *, follow_up_id: uuid.UUID, outcome_in: FollowUpOutcome, actor: Principal, ctx: SurveyContext
) -> FollowUp:
    with db.write() as s:
        fu = s.get(FollowUp, follow_up_id)
        if fu is None:
            raise follow_up_not_found(follow_up_id)
        if fu.status == "done":
            raise Conflict("The follow-up's outcome is already recorded", code="follow_up_done")
        fu.status, fu.outcome, fu.note = "done", outcome_in.outcome, outcome_in.note
        fu.completed_by, fu.completed_at = actor.sub, ctx.clock()
        s.commit()
        return fu
