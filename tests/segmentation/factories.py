"""Plain factories: a settable clock, events shaped as docs/events.md, and a feed driver that applies
them through FeedConsumer.apply (batch and cursor in one transaction)."""

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from services.common.consumer import FeedConsumer
from services.common.db import Database
from services.common.outbox import Event
from services.segmentation.consumers import FEED_PREFIXES, FeatureHandlers
from services.segmentation.models import consumer_cursor, customer_feature, membership_change, outbox
from tests.clock import ManualClock

Clock = ManualClock  # tests move it with advance(); the kit-wide hand-moved clock


def owner_of(event_type: str) -> str:
    """The feed that publishes `event_type` (a type no feed publishes goes through profile's)."""
    prefix = event_type.split(".")[0]
    return next((feed for feed, prefixes in FEED_PREFIXES.items() if prefix in prefixes), "profile")


class Feed:
    """Drives the segmentation consumers the way the poll loop does, one feed name per source."""

    def __init__(self, db: Database, settings, clock: Clock):
        self.db, self.clock = db, clock
        self.quarantined: list[tuple[str, str]] = []
        features = FeatureHandlers(settings, clock, lambda feed, kind: self.quarantined.append((feed, kind)))
        self.consumers = {
            name: FeedConsumer(
                name=name,
                db=db,
                cursor_table=consumer_cursor,
                handlers=features.handlers(name),
                client=None,
                feed_url="",
                token=lambda: "",
            )
            for name in ("profile", "loyalty", "feedback")
        }
        self.positions = {name: 0 for name in self.consumers}

    def event(
        self, type: str, subject: str, data: dict[str, Any], *, source: str | None = None, at: datetime | None = None
    ) -> Event:
        source = source or owner_of(type)
        self.positions[source] += 1
        return Event(
            position=self.positions[source],
            event_id=str(uuid.uuid4()),
            type=type,
            occurred_at=at or self.clock(),
            subject_id=subject,
            data=data,
        )

    def apply(self, *events: Event, source: str | None = None) -> int:
        """Applies the events through `source`'s consumer (by default the first event's owner's)."""
        return self.consumers[source or owner_of(events[0].type)].apply(list(events))

    def send(
        self, type: str, subject: str, data: dict[str, Any], *, source: str | None = None, at: datetime | None = None
    ) -> Event:
        source = source or owner_of(type)
        e = self.event(type, subject, data, source=source, at=at)
        self.apply(e, source=source)
        return e

    # --- shaped events ---

    def register(
        self,
        customer_id: str | None = None,
        *,
        type: str = "individual",
        region: str = "urban",
        branch: str = "BR0001",
        at: datetime | None = None,
    ) -> str:
        customer_id = customer_id or str(uuid.uuid4())
        self.send(
            "customer.registered",
            customer_id,
            {
                "customer_no": "1" + str(uuid.uuid4().int)[:11],
                "type": type,
                "region_type": region,
                "province": "北京",
                "city": "北京",
                "branch_code": branch,
                "status": "active",
            },
            at=at,
        )
        return customer_id

    def assets(self, customer_id: str, aum_fen: int, as_of: date | None = None) -> None:
        as_of = as_of or self.clock().date()
        self.send(
            "assets.updated",
            customer_id,
            {"as_of_date": as_of.isoformat(), "aum": f"{aum_fen // 100}.{aum_fen % 100:02d}", "aum_fen": aum_fen},
        )

    def transaction(
        self,
        customer_id: str,
        *,
        amount_fen: int = 10000,
        at: datetime | None = None,
        channel: str = "mobile",
        initiated: bool = True,
        kind: str = "deposit",
        external_id: str | None = None,
        reverses: str | None = None,
    ) -> str:
        """Sends one transaction.recorded; returns its external id."""
        at = at or self.clock()
        external_id = external_id or uuid.uuid4().hex
        self.send(
            "transaction.recorded",
            customer_id,
            {
                "transaction_id": str(uuid.uuid4()),
                "external_id": external_id,
                "kind": kind,
                "amount": f"{amount_fen // 100}.{amount_fen % 100:02d}",
                "amount_fen": amount_fen,
                "channel": channel,
                "occurred_at": at.isoformat().replace("+00:00", "Z"),
                "customer_initiated": initiated,
                "reverses_external_id": reverses,
            },
        )
        return external_id

    def reversal(self, customer_id: str, original: str, *, amount_fen: int = 10000, at: datetime | None = None) -> str:
        """A reversal as profile records it: bank-initiated, its own positive amount, naming the original."""
        return self.transaction(
            customer_id,
            amount_fen=amount_fen,
            at=at,
            channel="counter",
            initiated=False,
            kind="reversal",
            reverses=original,
        )

    def risk(self, customer_id: str, level: str, *, valid_days: int = 365) -> None:
        now = self.clock()
        self.send(
            "risk_assessment.completed",
            customer_id,
            {
                "assessment_id": str(uuid.uuid4()),
                "level": level,
                "score": 50,
                "questionnaire": {"id": "q", "version": 1},
                "assessed_at": now.isoformat(),
                "expires_at": (now + timedelta(days=valid_days)).isoformat(),
            },
        )

    def consent(self, customer_id: str, channels: list[str], *, do_not_contact: bool = False) -> None:
        self.send(
            "consent.changed",
            customer_id,
            {
                "channel": (channels or ["sms"])[0],
                "purpose": "marketing",
                "status": "granted" if channels else "withdrawn",
                "do_not_contact": do_not_contact,
                "contactable_channels": channels,
            },
        )

    # --- reads ---

    def features(self, customer_id: str):
        with self.db.read() as s:
            return s.execute(select(customer_feature).where(customer_feature.c.customer_id == customer_id)).first()

    def changes(self, customer_id: str | None = None) -> list:
        stmt = select(membership_change).order_by(membership_change.c.id)
        if customer_id:
            stmt = stmt.where(membership_change.c.customer_id == customer_id)
        with self.db.read() as s:
            return s.execute(stmt).all()

    def outbox(self) -> list:
        with self.db.read() as s:
            return s.execute(select(outbox).order_by(outbox.c.position)).all()

    def count(self, table) -> int:
        with self.db.read() as s:
            return s.execute(select(func.count()).select_from(table)).scalar_one()
