"""Care reminders: the occasions profile's data gives for a relationship manager to act on (a
birthday, a deposit maturing, a risk assessment or an agreement expiring, a valuable customer going
dormant). The daily job puts each occasion on the feed once (care.reminder_due), remembered in
care_reminder under a key naming the occasion; loyalty turns them into care tasks and notifications."""

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from services.common.db import Database, table_of
from services.profile.models import (
    Agreement,
    AssetSnapshot,
    CareReminder,
    Customer,
    Holding,
    RiskAssessment,
    TransactionRecord,
)
from services.profile.service.events import record_events

CHUNK = 1000
_C, _R = table_of(Customer), table_of(CareReminder)


@dataclass(frozen=True)
class CareWindow:
    """How far ahead each kind is told, in days, and what makes a customer valuable and dormant."""

    expiry_days: int = 30  # risk assessments, agreements, maturities
    birthday_days: int = 7
    dormant_days: int = 90
    valuable_aum_fen: int = 50_000_000  # 500,000.00 CNY


@dataclass(frozen=True)
class Occasion:
    key: str
    customer_id: uuid.UUID
    kind: str
    due_on: date
    reference: str | None  # the assessment, agreement or holding it is about


def _active() -> object:
    return Customer.status == "active"


def _risk(s: Session, now: datetime, w: CareWindow, zone: ZoneInfo) -> Iterator[Occasion]:
    newer = aliased(RiskAssessment)
    later = select(newer.id).where(
        newer.customer_id == RiskAssessment.customer_id, newer.assessed_at > RiskAssessment.assessed_at
    )
    stmt = (
        select(RiskAssessment.id, RiskAssessment.customer_id, RiskAssessment.expires_at)
        .join(Customer, Customer.id == RiskAssessment.customer_id)  # type: ignore[arg-type]
        .where(
            _active(), RiskAssessment.expires_at >= now, RiskAssessment.expires_at < now + timedelta(days=w.expiry_days)
        )
        .where(~later.exists())
    )
    for rid, cid, at in s.execute(stmt):
        yield Occasion(f"risk_expiry:{rid}", cid, "risk_expiry", at.astimezone(zone).date(), str(rid))


def _agreements(s: Session, now: datetime, w: CareWindow, zone: ZoneInfo) -> Iterator[Occasion]:
    stmt = (
        select(Agreement.id, Agreement.customer_id, Agreement.expires_at)
        .join(Customer, Customer.id == Agreement.customer_id)  # type: ignore[arg-type]
        .where(_active(), Agreement.status == "active")
        .where(Agreement.expires_at >= now, Agreement.expires_at < now + timedelta(days=w.expiry_days))  # type: ignore[operator]
    )
    for aid, cid, at in s.execute(stmt):
        yield Occasion(
            f"agreement_renewal:{aid}:{at.date()}", cid, "agreement_renewal", at.astimezone(zone).date(), str(aid)
        )


def _maturities(s: Session, today: date, w: CareWindow) -> Iterator[Occasion]:
    stmt = (
        select(Holding.id, Holding.customer_id, Holding.matures_on)
        .join(Customer, Customer.id == Holding.customer_id)  # type: ignore[arg-type]
        .where(_active(), Holding.status == "held")
        .where(Holding.matures_on >= today, Holding.matures_on < today + timedelta(days=w.expiry_days))  # type: ignore[operator]
    )
    for hid, cid, on in s.execute(stmt):
        yield Occasion(f"deposit_maturity:{hid}:{on}", cid, "deposit_maturity", on, str(hid))


def _birthdays(s: Session, today: date, w: CareWindow) -> Iterator[Occasion]:
    days = [today + timedelta(days=n) for n in range(w.birthday_days + 1)]
    by_md = {d.month * 100 + d.day: d for d in days}
    if any(d.month == 3 and d.day == 1 for d in days) and not any(d.month == 2 and d.day == 29 for d in days):
        by_md[229] = next(d for d in days if d.month == 3 and d.day == 1)  # a leap-day birthday in a common year
    stmt = select(Customer.id, Customer.birth_md).where(_active(), Customer.birth_md.in_(list(by_md)))  # type: ignore[union-attr]
    for cid, md in s.execute(stmt):
        on = by_md[md]
        yield Occasion(f"birthday:{cid}:{on.year}", cid, "birthday", on, None)


def _dormant(s: Session, now: datetime, today: date, w: CareWindow) -> Iterator[Occasion]:
    latest = (
        select(AssetSnapshot.customer_id, func.max(AssetSnapshot.as_of_date).label("as_of"))
        .group_by(AssetSnapshot.customer_id)  # type: ignore[arg-type]
        .subquery()
    )
    since = now - timedelta(days=w.dormant_days)
    recent = select(TransactionRecord.id).where(
        TransactionRecord.customer_id == Customer.id, TransactionRecord.occurred_at >= since
    )
    last = (
        select(func.max(TransactionRecord.occurred_at))
        .where(TransactionRecord.customer_id == Customer.id)
        .scalar_subquery()
    )
    stmt = (
        select(Customer.id, Customer.created_at, last)
        .join(latest, latest.c.customer_id == Customer.id)
        .join(
            AssetSnapshot,
            and_(AssetSnapshot.customer_id == latest.c.customer_id, AssetSnapshot.as_of_date == latest.c.as_of),
        )
        .where(_active(), AssetSnapshot.aum_fen >= w.valuable_aum_fen, Customer.created_at < since, ~recent.exists())
    )
    for cid, created, last_at in s.execute(stmt):
        quiet_since = (last_at or created).date()
        yield Occasion(f"dormant:{cid}:{quiet_since}", cid, "dormant", today, None)


def find_occasions(s: Session, now: datetime, window: CareWindow, zone: ZoneInfo) -> Iterable[Occasion]:
    today = now.astimezone(zone).date()
    yield from _risk(s, now, window, zone)
    yield from _agreements(s, now, window, zone)
    yield from _maturities(s, today, window)
    yield from _birthdays(s, today, window)
    yield from _dormant(s, now, today, window)


def _chunks(items: Iterable[Occasion]) -> Iterator[list[Occasion]]:
    chunk: list[Occasion] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _event(o: Occasion, branch_code: str | None) -> tuple[str, str, dict]:
    data = {
        "occasion_key": o.key,
        "kind": o.kind,
        "due_on": o.due_on.isoformat(),
        "reference": o.reference,
        "branch_code": branch_code,
    }
    return ("care.reminder_due", str(o.customer_id), data)


def remind(db: Database, *, now: datetime, window: CareWindow, zone: ZoneInfo) -> dict[str, int]:
    """Puts every occasion not told before on the feed; returns how many of each kind. Each chunk is
    one transaction: its care_reminder rows with their events."""
    with db.read() as s:
        occasions = list(find_occasions(s, now, window, zone))
    told: dict[str, int] = {}
    for chunk in _chunks(occasions):
        with db.write() as s:
            keys = [o.key for o in chunk]
            known = set(s.execute(select(_R.c.occasion_key).where(_R.c.occasion_key.in_(keys))).scalars())
            fresh = list({o.key: o for o in chunk if o.key not in known}.values())
            if not fresh:
                continue
            ids = {o.customer_id for o in fresh}
            homes = select(_C.c.id, _C.c.branch_code).where(_C.c.id.in_(ids))
            branches: dict[uuid.UUID, str] = {cid: code for cid, code in s.execute(homes).all()}
            for o in fresh:
                s.add(
                    CareReminder(
                        occasion_key=o.key, customer_id=o.customer_id, kind=o.kind, due_on=o.due_on, recorded_at=now
                    )
                )
                told[o.kind] = told.get(o.kind, 0) + 1
            s.flush()
            record_events(s, [_event(o, branches.get(o.customer_id)) for o in fresh], now)
            s.commit()
    return told
