"""Loyalty's own reminders, run by the care_reminders job: points that expire within the window (a
care task and a notification per customer and expiry date) and event reminders (a notification per
registration for an event starting soon). Each occasion's key makes it once, however often the job runs."""

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import func, select

from services.common.db import Database
from services.loyalty.models import CustomerEvent, EventRegistration, PointsAccount, PointsLot
from services.loyalty.service.care import remind
from services.loyalty.service.notifications import notify


@dataclass(frozen=True)
class ReminderRun:
    points_expiring: int
    event_reminders: int


def _points_expiring(db: Database, now: datetime, days: int, zone: tzinfo) -> int:
    stmt = (
        select(PointsLot.customer_id, PointsLot.expires_at, func.sum(PointsLot.remaining))
        .join(PointsAccount, PointsAccount.customer_id == PointsLot.customer_id)  # type: ignore[arg-type]
        .where(PointsAccount.status == "active", PointsLot.remaining > 0)
        .where(PointsLot.expires_at > now, PointsLot.expires_at <= now + timedelta(days=days))
        .group_by(PointsLot.customer_id, PointsLot.expires_at)  # type: ignore[arg-type]
    )
    made = 0
    with db.write() as s:
        for customer_id, expires_at, points in s.execute(stmt).all():
            key = f"points_expiring:{customer_id}:{expires_at.astimezone(zone).date()}"
            made += remind(
                s,
                customer_id=customer_id,
                key=key,
                kind="points_expiring",
                due_at=expires_at,
                now=now,
                zone=zone,
                facts={"points": int(points)},
            )
        s.commit()
    return made


def _event_reminders(db: Database, now: datetime, hours: int, zone: tzinfo) -> int:
    stmt = (
        select(
            EventRegistration.id,
            EventRegistration.customer_id,
            CustomerEvent.id,
            CustomerEvent.title,
            CustomerEvent.starts_at,
        )
        .join(CustomerEvent, CustomerEvent.id == EventRegistration.event_id)  # type: ignore[arg-type]
        .where(EventRegistration.status == "registered", CustomerEvent.status == "scheduled")
        .where(CustomerEvent.starts_at > now, CustomerEvent.starts_at <= now + timedelta(hours=hours))
    )
    made = 0
    with db.write() as s:
        for reg_id, customer_id, event_id, title, starts_at in s.execute(stmt).all():
            local = starts_at.astimezone(zone)
            made += notify(
                s,
                customer_id=customer_id,
                key=f"event_reminder:{reg_id}",
                kind="event_reminder",
                title="活动提醒",
                body=f"您报名的活动「{title}」将于 {local:%Y-%m-%d %H:%M} 开始，欢迎准时参加。",
                now=now,
                data={"event_id": str(event_id), "registration_id": str(reg_id), "starts_at": starts_at.isoformat()},
            )
        s.commit()
    return made


def run_reminders(db: Database, *, now: datetime, points_days: int, event_hours: int, zone: tzinfo) -> ReminderRun:
    return ReminderRun(_points_expiring(db, now, points_days, zone), _event_reminders(db, now, event_hours, zone))
