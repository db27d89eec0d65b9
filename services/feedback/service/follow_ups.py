"""Follow-up tasks for detractor answers: list them and record their outcome."""

import uuid
from typing import Any

from sqlalchemy import select

from services.common.auth import Principal
from services.common.branch_scope import in_reach
from services.common.db import Database
from services.common.errors import Conflict, NotFound
from services.common.pagination import oldest_first, page_of, time_id_key
from services.common.pii import PersonalDataVault
from services.feedback.models import (
    FollowUp,
)
from services.feedback.schemas.follow_ups import FollowUpOutcome, FollowUpRead
from services.feedback.service.free_text import FOLLOW_UP_NOTE_FIELD, open_text
from services.feedback.service.surveys import SurveyContext


def follow_up_not_found(follow_up_id: Any) -> NotFound:
    return NotFound(f"No follow-up {follow_up_id}", code="follow_up_not_found")


def present_follow_up(fu: FollowUp, vault: PersonalDataVault, *, full: bool = False) -> FollowUpRead:
    """The task as read: its note decrypted, the values inside masked unless `full` (the export)."""
    read = FollowUpRead.model_validate(fu)
    return read.model_copy(update={"note": open_text(vault, fu.note, FOLLOW_UP_NOTE_FIELD, full=full)})


def list_follow_ups(
    db: Database,
    *,
    branch_code: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
    vault: PersonalDataVault,
    reach: set[str] | None = None,
) -> tuple[list[FollowUpRead], str | None]:
    """By due time, soonest first; of the branches in `reach` (None: every branch; a task without a
    branch is the head office's)."""
    stmt = select(FollowUp).where(in_reach(FollowUp.branch_code, reach))
    if branch_code is not None:
        stmt = stmt.where(FollowUp.branch_code == branch_code)
    if status is not None:
        stmt = stmt.where(FollowUp.status == status)
    stmt = oldest_first(stmt, FollowUp.due_at, FollowUp.id, cursor, limit)
    with db.read() as s:
        rows = [present_follow_up(fu, vault) for fu in s.execute(stmt).scalars()]
    return page_of(rows, limit, key=time_id_key("due_at"))


def record_follow_up(
    db: Database,
    *,
    follow_up_id: uuid.UUID,
    outcome_in: FollowUpOutcome,
    actor: Principal,
    ctx: SurveyContext,
    reach: set[str] | None = None,
) -> FollowUpRead:
    """404 for a task of a branch out of `reach`, as for one that does not exist."""
    with db.write() as s:
        fu = s.get(FollowUp, follow_up_id)
        if fu is None or (reach is not None and fu.branch_code not in reach):
            raise follow_up_not_found(follow_up_id)
        if fu.status == "done":
            raise Conflict("The follow-up's outcome is already recorded", code="follow_up_done")
        fu.status, fu.outcome = "done", outcome_in.outcome
        fu.note = ctx.vault.seal(outcome_in.note, FOLLOW_UP_NOTE_FIELD)
        fu.completed_by, fu.completed_at = actor.sub, ctx.clock()
        s.commit()
        return present_follow_up(fu, ctx.vault)
