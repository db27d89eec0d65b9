"""What an improvement action changed, and the report of open and overdue actions.

The effect compares two windows of `window_days`: the one before the action was opened, and the one after
it was finished (after it was opened while it is still open), cut at now. In each window it counts the
complaints of each linked cause and takes the NPS of the linked surveys' responses (every survey's when no
survey is linked), in the action's branch (every branch for a bank-wide action). Counts are also given per
30 days, because the after window may still be short."""

import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, select

from services.common.branch_scope import in_reach
from services.common.db import Database, table_of
from services.feedback.models import Complaint, ImprovementAction, SurveyResponse
from services.feedback.schemas.analysis import Score
from services.feedback.schemas.improvements import (
    BranchCount,
    CauseEffect,
    ImprovementEffect,
    ImprovementReport,
    NpsEffect,
    Window,
)
from services.feedback.service.analysis import score_columns, scores_from
from services.feedback.service.improvements import ACTIVE, overdue_filter, present, require_action

C = table_of(Complaint)
R = table_of(SurveyResponse)
REPORT_OVERDUE_ITEMS = 100


def _window(start: datetime, end: datetime) -> Window:
    return Window(start=start, end=end, days=round((end - start).total_seconds() / 86400, 2))


def _per_30(count: int, w: Window) -> float | None:
    return round(count * 30 / w.days, 2) if w.days > 0 else None


def effect(
    db: Database,
    *,
    action_id: uuid.UUID,
    window_days: int,
    now: datetime,
    small_sample: int,
    reach: set[str] | None = None,
) -> ImprovementEffect:
    span = timedelta(days=window_days)
    with db.read() as s:
        a = require_action(s, action_id, reach)
        pivot = a.finished_at or a.opened_at
        before = _window(a.opened_at - span, a.opened_at)
        after = _window(pivot, max(pivot, min(pivot + span, now)))
        causes = sorted({link["cause"] for link in a.links if link["kind"] == "complaint_cause"})
        surveys = sorted({link["survey_id"] for link in a.links if link["kind"] != "complaint_cause"})
        complaint_branch = [C.c.branch_code == a.branch_code] if a.branch_code else []
        response_branch = [R.c.branch_code == a.branch_code] if a.branch_code else []

        def complaints(cause: str, w: Window) -> int:
            where = [C.c.cause == cause, C.c.received_at >= w.start, C.c.received_at < w.end, *complaint_branch]
            return int(s.execute(select(func.count()).select_from(C).where(*where)).scalar_one())

        def nps(survey: str | None, w: Window) -> Score:
            where = [R.c.responded_at >= w.start, R.c.responded_at < w.end, *response_branch]
            if survey is not None:
                where.append(R.c.survey_id == uuid.UUID(survey))
            row = s.execute(select(*score_columns()).where(*where)).one()
            score: Score = scores_from(row, small_sample)["nps"]
            return score

        cause_rows = []
        for cause in causes:
            n_before, n_after = complaints(cause, before), complaints(cause, after)
            cause_rows.append(
                CauseEffect(
                    cause=cause,
                    before=n_before,
                    after=n_after,
                    before_per_30_days=_per_30(n_before, before),
                    after_per_30_days=_per_30(n_after, after),
                )
            )
        nps_rows = [
            NpsEffect(survey_id=uuid.UUID(sv) if sv else None, before=nps(sv, before), after=nps(sv, after))
            for sv in (surveys or [None])
        ]
    return ImprovementEffect(
        action_id=a.id, branch_code=a.branch_code, before=before, after=after, complaints=cause_rows, nps=nps_rows
    )


def report(db: Database, *, now: datetime, reach: set[str] | None = None) -> ImprovementReport:
    """Counts by status, open and overdue counts by branch, and the longest overdue actions, of the
    caller's branch subtree (`reach`; None: the whole bank)."""
    today: date = now.date()
    mine = in_reach(ImprovementAction.branch_code, reach)
    late = overdue_filter(today) & mine
    with db.read() as s:
        by_status = {
            str(status): int(n)
            for status, n in s.execute(
                select(ImprovementAction.status, func.count()).where(mine).group_by(ImprovementAction.status)  # type: ignore[arg-type]
            )
        }
        branches = s.execute(
            select(
                ImprovementAction.branch_code,
                func.count(),
                func.coalesce(func.sum(case((late, 1), else_=0)), 0),
            )
            .where(ImprovementAction.status.in_(ACTIVE), mine)  # type: ignore[attr-defined]
            .group_by(ImprovementAction.branch_code)
        ).all()
        overdue = list(
            s.execute(
                select(ImprovementAction)
                .where(late)
                .order_by(ImprovementAction.due_on, ImprovementAction.id)  # type: ignore[arg-type]
                .limit(REPORT_OVERDUE_ITEMS)
            ).scalars()
        )
        overdue_total = int(s.execute(select(func.count()).select_from(ImprovementAction).where(late)).scalar_one())
    return ImprovementReport(
        as_of=now,
        by_status={status: int(by_status.get(status, 0)) for status in ("open", "in_progress", "done", "cancelled")},
        overdue=overdue_total,
        by_branch=[
            BranchCount(branch_code=b, open=int(n), overdue=int(late_n))
            for b, n, late_n in sorted(branches, key=lambda r: (r[0] is None, r[0] or ""))
        ],
        overdue_actions=[present(a, today) for a in overdue],
    )
