"""Complaint reports for supervisors: open complaints by age band, at-risk and overdue counts, monthly
counts by channel, business type and cause, time to decision, satisfaction with handling and the
top causes per branch. Counts are GROUP BY queries; the median is taken over the decision times."""

import statistics
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, case, func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.branch_scope import in_reach
from services.common.db import Database, table_of
from services.feedback.models import Complaint, ComplaintStep, SurveyInvitation, SurveyResponse
from services.feedback.schemas.reports import (
    AgeBand,
    BranchCauses,
    CodeCount,
    ComplaintReport,
    CountRow,
    HandlingSatisfaction,
)
from services.feedback.service.analysis import score_columns, scores_from
from services.feedback.service.complaints import OPEN, ComplaintContext
from services.feedback.service.escalations import open_with_deadlines

C = table_of(Complaint)
S = table_of(ComplaintStep)
AGE_BANDS = ((0, 7), (8, 15), (16, 30), (31, 60), (61, None))
TOP_CAUSES = 3


def _month(dialect: str, column):
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)


def complaint_report(
    db: Database,
    *,
    ctx: ComplaintContext,
    start: datetime | None,
    end: datetime | None,
    small_sample: int,
    reach: set[str] | None = None,
) -> ComplaintReport:
    """Every count and score over the complaints of the branches in `reach` (None: every branch)."""
    now = ctx.clock()
    period = [in_reach(C.c.branch_code, reach)]
    if start is not None:
        period.append(C.c.received_at >= start)
    if end is not None:
        period.append(C.c.received_at < end)
    with db.read() as s:
        counts = _counts_by_month(s, period)
        received = s.execute(select(func.count()).select_from(C).where(*period)).scalar_one()
        band_counts = _open_by_age(s, now, period[0])
        days = _days_to_decision(s, period)
        flags = [d for _, _, d in open_with_deadlines(s, ctx, reach)]
        scores = scores_from(_handling_satisfaction(s, period[0]), small_sample)
        top = _top_causes_by_branch(s, period)
    return ComplaintReport(
        period_from=start,
        period_to=end,
        received=received,
        open_by_age=[
            AgeBand(band=f"{lo}-{hi}" if hi else f"{lo}+", count=n)
            for (lo, hi), n in zip(AGE_BANDS, band_counts, strict=True)
        ],
        at_risk=sum(d.at_risk for d in flags),
        overdue=sum(d.overdue for d in flags),
        by_channel=counts["channel"],
        by_business_type=counts["business_type"],
        by_cause=counts["cause"],
        decided=len(days),
        median_days_to_decision=round(statistics.median(days), 2) if days else None,
        share_decided_within_15_days=round(sum(d <= 15 for d in days) / len(days), 4) if days else None,
        handling_satisfaction=HandlingSatisfaction(
            responses=scores["responses"], csat=scores["csat"], nps=scores["nps"]
        ),
        top_causes_by_branch=[BranchCauses(branch_code=b, causes=c) for b, c in top.items()],
    )


def _counts_by_month(s: Session, period: list[Any]) -> dict[str, list[CountRow]]:
    """Complaints received per month by channel, business type and cause."""
    month = _month(s.get_bind().dialect.name, C.c.received_at).label("month")
    counts = {}
    for dim in ("channel", "business_type", "cause"):
        rows = s.execute(
            select(month, C.c[dim], func.count()).where(*period).group_by(month, C.c[dim]).order_by(month, C.c[dim])
        ).all()
        counts[dim] = [CountRow(month=m, code=code, count=n) for m, code, n in rows]
    return counts


def _open_by_age(s: Session, now: datetime, scope: Any) -> Row[Any]:
    """Open complaints in each age band (days since received)."""
    bands = [
        func.coalesce(
            func.sum(
                case(
                    (
                        and_(
                            C.c.received_at <= now - timedelta(days=lo),
                            *([C.c.received_at > now - timedelta(days=hi + 1)] if hi else []),
                        ),
                        1,
                    ),
                    else_=0,
                )
            ),
            0,
        )
        for lo, hi in AGE_BANDS
    ]
    return s.execute(select(*bands).where(C.c.state.in_(OPEN), scope)).one()


def _days_to_decision(s: Session, period: list[Any]) -> list[float]:
    """For each decided complaint received in the period: days from receipt to its first decision."""
    decisions = s.execute(
        select(C.c.received_at, func.min(S.c.at))
        .select_from(C.join(S, S.c.complaint_id == C.c.id))
        .where(S.c.action == "decide", *period)
        .group_by(C.c.id, C.c.received_at)
    ).all()
    return [(decided - received).total_seconds() / 86400 for received, decided in decisions]


def _handling_satisfaction(s: Session, scope: Any) -> Row[Any]:
    """Scores of the survey responses that answer an invitation sent after a complaint closed (of the
    complaints `scope` keeps: those filed at the caller's branches)."""
    return s.execute(
        select(*score_columns())
        .where(scope)
        .select_from(
            table_of(SurveyResponse)
            .join(
                table_of(SurveyInvitation),
                and_(
                    SurveyInvitation.survey_id == SurveyResponse.survey_id,
                    SurveyInvitation.customer_id == SurveyResponse.customer_id,
                    col(SurveyInvitation.complaint_id).is_not(None),
                ),
            )
            .join(C, C.c.id == SurveyInvitation.complaint_id)
        )
    ).one()


def _top_causes_by_branch(s: Session, period: list[Any]) -> dict[str, list[CodeCount]]:
    by_branch = s.execute(
        select(C.c.branch_code, C.c.cause, func.count().label("n"))
        .where(*period)
        .group_by(C.c.branch_code, C.c.cause)
        .order_by(C.c.branch_code, func.count().desc(), C.c.cause)
    ).all()
    top: dict[str, list[CodeCount]] = {}
    for branch, cause, n in by_branch:
        if len(top.setdefault(branch, [])) < TOP_CAUSES:
            top[branch].append(CodeCount(code=cause, count=n))
    return top
