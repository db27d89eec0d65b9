"""Complaint deadlines, computed from the append-only steps and a clock, never stored: 15 calendar
days from receipt, extended to 30 and then 60, plus paused time; new facts restart the clock; a
decision or a withdrawal stops it; a deadline ending on a listed holiday moves to the next day."""

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

CHINA = timezone(timedelta(hours=8))  # holidays are Beijing-time dates
DAY = timedelta(days=1)


@dataclass(frozen=True)
class DeadlineRules:
    base_days: int = 15
    extended_days: int = 30
    max_days: int = 60
    at_risk_share: float = 0.8
    review_request_days: int = 30
    review_decision_days: int = 30
    holidays: frozenset[date] = frozenset()


@dataclass(frozen=True)
class StepView:
    """The fields of a complaint step the deadline needs."""

    action: str
    at: datetime
    data: dict


@dataclass
class Deadline:
    clock_started_at: datetime
    limit_days: int
    due_at: datetime
    days_left: int | None
    paused_seconds: int
    is_paused: bool
    at_risk: bool
    overdue: bool
    stopped_at: datetime | None
    restarts: int
    extensions: list[dict] = field(default_factory=list)
    pauses: list[dict] = field(default_factory=list)
    review_request_due_at: datetime | None = None
    review_decision_due_at: datetime | None = None


def roll_past_holidays(due: datetime, holidays: frozenset[date]) -> datetime:
    while due.astimezone(CHINA).date() in holidays:
        due += DAY
    return due


@dataclass
class _Clock:
    """The complaint's clock as its steps leave it."""

    start: datetime
    limit: int
    restarts: int = 0
    stopped: datetime | None = None
    decided_at: Any = None
    review_requested_at: datetime | None = None
    extensions: list[dict[str, Any]] = field(default_factory=list)
    pauses: list[dict[str, Any]] = field(default_factory=list)


def _replay(received_at: datetime, steps: Iterable[StepView], rules: DeadlineRules) -> _Clock:
    """Walks the steps in order: extensions, pauses and resumptions, new facts restarting the clock,
    the decision or withdrawal stopping it, a review request."""
    clock = _Clock(start=received_at, limit=rules.base_days)
    extensions, pauses = clock.extensions, clock.pauses
    for step in steps:
        if step.action == "extend":
            clock.limit = step.data["to_days"]
            extensions.append(
                {
                    "at": step.at,
                    "to_days": clock.limit,
                    "reason": step.data.get("reason"),
                    "approved_by": step.data.get("approved_by"),
                    "notice_sent_at": step.data.get("notice_sent_at"),
                    "counts": True,
                }
            )
        elif step.action == "pause":
            pauses.append(
                {
                    "started_at": step.at,
                    "ended_at": None,
                    "reason": step.data.get("reason"),
                    "notice_sent_at": step.data.get("notice_sent_at"),
                    "counts": True,
                }
            )
        elif step.action == "resume" and pauses and pauses[-1]["ended_at"] is None:
            pauses[-1]["ended_at"] = step.at
        elif step.action == "add_facts":
            # New facts: the clock starts again from today; earlier extensions and pauses no longer count.
            clock.start, clock.limit, clock.restarts = step.at, rules.base_days, clock.restarts + 1
            for item in extensions + pauses:
                item["counts"] = False
            if pauses and pauses[-1]["ended_at"] is None:
                pauses[-1]["ended_at"] = step.at
        elif step.action in ("decide", "withdraw") and clock.stopped is None:
            clock.stopped = step.at
            if step.action == "decide":
                clock.decided_at = step.data.get("communicated_at") or step.at
        elif step.action == "request_review":
            clock.review_requested_at = step.at
    return clock


def compute_deadline(received_at: datetime, steps: Iterable[StepView], rules: DeadlineRules, now: datetime) -> Deadline:
    c = _replay(received_at, steps, rules)
    start, limit, stopped, pauses = c.start, c.limit, c.stopped, c.pauses
    until = stopped or now
    paused = timedelta(0)
    for p in pauses:
        if p["counts"]:
            paused += max(timedelta(0), min(p["ended_at"] or until, until) - p["started_at"])
    due = roll_past_holidays(start + limit * DAY + paused, rules.holidays)
    is_paused = bool(pauses) and pauses[-1]["ended_at"] is None and stopped is None
    elapsed = until - start - paused
    running = stopped is None
    return Deadline(
        clock_started_at=start,
        limit_days=limit,
        due_at=due,
        days_left=math.ceil((due - now) / DAY) if running else None,
        paused_seconds=int(paused.total_seconds()),
        is_paused=is_paused,
        at_risk=running and now <= due and elapsed >= rules.at_risk_share * limit * DAY,
        overdue=running and now > due,
        stopped_at=stopped,
        restarts=c.restarts,
        extensions=c.extensions,
        pauses=pauses,
        review_request_due_at=(_as_dt(c.decided_at) + rules.review_request_days * DAY) if c.decided_at else None,
        review_decision_due_at=(c.review_requested_at + rules.review_decision_days * DAY)
        if c.review_requested_at
        else None,
    )


def _as_dt(value) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
