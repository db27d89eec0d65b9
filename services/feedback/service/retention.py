"""Retention (PIPL art. 19: personal data is kept no longer than its purpose needs). A complaint's
handling record is kept, but once `retention_complaint_years` have passed since its last step in a
final state, its complainant's details and free text are redacted as an erasure would
(services.feedback.service.erasure). Free-text survey answers and follow-up notes are cleared after
`retention_survey_text_years`; the scores stay for the statistics. docs/privacy.md, Retention."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select, update

from services.common.db import Database, rows_affected
from services.common.pii import ERASED
from services.common.retention import years_before
from services.feedback.service.erasure import ANSWER, COMPLAINT, FOLLOW_UP, RESPONSE, STEP, redact_complaints

# States after which nothing more is expected of a complaint (a decided one may still be reviewed)
FINAL_STATES = ("closed", "withdrawn", "review_decided")


@dataclass(frozen=True)
class RetentionResult:
    complaints: int
    answers: int
    follow_ups: int

    def __str__(self) -> str:
        return (
            f"{self.complaints} complaints redacted, {self.answers} survey answers"
            f" and {self.follow_ups} follow-up notes cleared"
        )


def sweep_retention(
    db: Database, *, now: datetime, complaint_years: int, text_years: int, batch: int = 500
) -> RetentionResult:
    """One transaction per run of at most `batch` complaints; the next run takes the rest."""
    complaint_cutoff, text_cutoff = years_before(now, complaint_years), years_before(now, text_years)
    recent_step = exists().where(STEP.c.complaint_id == COMPLAINT.c.id, STEP.c.at >= complaint_cutoff)
    due = (
        select(COMPLAINT.c.id)
        .where(COMPLAINT.c.state.in_(FINAL_STATES), COMPLAINT.c.description != ERASED, ~recent_step)
        .limit(batch)
    )
    old_responses = select(RESPONSE.c.id).where(RESPONSE.c.responded_at < text_cutoff)
    with db.write() as s:
        ids = list(s.scalars(due))
        if ids:
            redact_complaints(s, select(COMPLAINT.c.id).where(COMPLAINT.c.id.in_(ids)))
        answers = rows_affected(
            s.execute(
                update(ANSWER)
                .where(ANSWER.c.response_id.in_(old_responses), ANSWER.c.text.is_not(None))
                .values(text=None)
            )
        )
        follow_ups = rows_affected(
            s.execute(
                update(FOLLOW_UP)
                .where(FOLLOW_UP.c.created_at < text_cutoff, FOLLOW_UP.c.note.is_not(None))
                .values(note=None)
            )
        )
        s.commit()
    if ids or answers or follow_ups:
        db.scrub_files()
    return RetentionResult(len(ids), answers, follow_ups)
