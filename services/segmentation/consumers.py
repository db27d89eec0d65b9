"""Event handlers for the profile, loyalty and feedback feeds: each event updates the customer's
features and then, in the same transaction, the customer's classes and rule-segment memberships
(the FeedConsumer commits the batch together with its cursor: exactly once)."""

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.common.branches import branch_handlers
from services.common.db import upsert_insert
from services.common.outbox import Event
from services.segmentation.config import SegmentationSettings
from services.segmentation.models import branch, customer_feature, customer_holding, segment
from services.segmentation.service.activity import count_transaction, latest_txn_at, reverse_transaction
from services.segmentation.service.classify import Scope, classify, refresh_windows, remove_from_all
from services.segmentation.service.quarantine import OnQuarantine, forget_subject, guarded, item_hook
from services.segmentation.service.segment_refresh import refresh_rule_segment

cf = customer_feature
DIGITAL_CHANNELS = ("mobile", "online")
PROFILE_FIELDS = ("region_type", "province", "city", "branch_code")
Clock = Callable[[], datetime]


def _ensure_row(s: Session, customer_id: str, now: datetime) -> None:
    s.execute(upsert_insert(s)(cf).values(customer_id=customer_id, updated_at=now).on_conflict_do_nothing())


def _set(s: Session, customer_id: str, now: datetime, *conditions, **values) -> None:
    _ensure_row(s, customer_id, now)
    s.execute(update(cf).where(cf.c.customer_id == customer_id, *conditions).values(**values, updated_at=now))


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def refresh_customer(s: Session, *, customer_id: str, settings: SegmentationSettings, now: datetime) -> None:
    """Windows, built-in classes and every rule segment, for one customer."""
    scope = Scope(customer_id)
    refresh_windows(s, now=now, scope=scope)
    classify(s, settings=settings, now=now, scope=scope)
    for seg_id, version in s.execute(select(segment.c.id, segment.c.version)).all():
        refresh_rule_segment(s, segment_id=seg_id, version=version, rule=_rule_loader(s, seg_id), now=now, scope=scope)


def _rule_loader(s: Session, segment_id: str) -> Callable[[], Any]:
    return lambda: s.execute(select(segment.c.rule).where(segment.c.id == segment_id)).scalar_one()


# Which owner publishes which event types, by the type's prefix (docs/events.md).
FEED_PREFIXES = {
    "profile": {"customer", "transaction", "assets", "risk_assessment", "consent", "holding", "branch"},
    "loyalty": {"points"},
    "feedback": {"survey"},
}


class FeatureHandlers:
    """One handler per event type; `clock` is injected so tests fix the time windows are measured from.
    `on_quarantine(feed, type)` is told of every event set aside (see quarantine.py)."""

    def __init__(self, settings: SegmentationSettings, clock: Clock, on_quarantine: OnQuarantine | None = None):
        self.settings, self.clock, self.on_quarantine = settings, clock, on_quarantine

    def set_aside(self, feed: str):
        """The feed consumer's hook for items whose envelope is malformed: quarantined as well."""
        return item_hook(feed, self.clock, self.on_quarantine, known=frozenset(self._handlers()))

    def handlers(self, feed: str) -> dict[str, Callable[[Session, Event], None]]:
        """The handlers for one feed's consumer, for the types that feed's owner publishes (any other
        type on it is passed over); malformed events are set aside under `feed`."""
        return {
            name: guarded(feed, fn, self.clock, self.on_quarantine)
            for name, fn in self._handlers().items()
            if name.split(".")[0] in FEED_PREFIXES[feed]
        }

    def _handlers(self) -> dict[str, Callable[[Session, Event], None]]:
        simple = {
            "customer.registered": self.registered,
            "customer.updated": self.updated,
            "customer.closed": self.closed,
            "transaction.recorded": self.transaction,
            "assets.updated": self.assets,
            "risk_assessment.completed": self.risk,
            "consent.changed": self.consent,
            "points.earned": self.points,
            "points.redeemed": self.points,
            "points.expired": self.points,
            "points.debited": self.points,
            "points.restored": self.points,
            "survey.responded": self.survey,
        }
        wrapped = {name: self._then_refresh(fn) for name, fn in simple.items()}
        wrapped["customer.erased"] = self.erased
        # Stated needs and holdings change no class: stored, with no refresh of the customer.
        wrapped["customer.needs_stated"] = self.needs
        wrapped["holding.changed"] = self.holding
        return wrapped | branch_handlers(branch)

    def needs(self, s: Session, e: Event) -> None:
        d = e.data
        _set(
            s,
            e.subject_id,
            self.clock(),
            need_purpose=d["purpose"],
            need_horizon=d["horizon"],
            need_liquidity=d["liquidity_need"],
        )

    def holding(self, s: Session, e: Event) -> None:
        d = e.data
        values = {"customer_id": e.subject_id, "product_code": d["product_code"], "status": d["status"]}
        s.execute(
            upsert_insert(s)(customer_holding)
            .values(holding_id=d["holding_id"], **values)
            .on_conflict_do_update(index_elements=["holding_id"], set_=values)
        )

    def erased(self, s: Session, e: Event) -> None:
        remove_from_all(s, customer_id=e.subject_id)
        forget_subject(s, subject_id=e.subject_id)

    def _then_refresh(self, fn):
        def handle(s: Session, event: Event) -> None:
            now = self.clock()
            fn(s, event, now)
            refresh_customer(s, customer_id=event.subject_id, settings=self.settings, now=now)

        return handle

    def registered(self, s: Session, e: Event, now: datetime) -> None:
        d = e.data
        _set(
            s,
            e.subject_id,
            now,
            customer_no=d.get("customer_no"),
            type=d.get("type"),
            region_type=d.get("region_type"),
            province=d.get("province"),
            city=d.get("city"),
            branch_code=d.get("branch_code"),
            status=d.get("status", "active"),
            registered_at=e.occurred_at,
        )

    def updated(self, s: Session, e: Event, now: datetime) -> None:
        changes = {k: e.data[k] for k in PROFILE_FIELDS if k in e.data}
        _set(s, e.subject_id, now, **changes)

    def closed(self, s: Session, e: Event, now: datetime) -> None:
        _set(s, e.subject_id, now, status="closed")

    def transaction(self, s: Session, e: Event, now: datetime) -> None:
        d = e.data
        _ensure_row(s, e.subject_id, now)
        if d.get("kind") == "reversal":
            original = d.get("reverses_external_id")
            owner = reverse_transaction(s, external_id=original) if original else None
            if owner is not None and owner != e.subject_id:  # the subject is refreshed by the caller
                refresh_customer(s, customer_id=owner, settings=self.settings, now=now)
            return
        if not d.get("customer_initiated"):
            return  # interest and fees are not the customer's own activity
        at = _time(d["occurred_at"]) if "occurred_at" in d else e.occurred_at
        count_transaction(
            s,
            customer_id=e.subject_id,
            external_id=d.get("external_id"),
            at=at,
            amount_fen=int(d["amount_fen"]),
            is_digital=d.get("channel") in DIGITAL_CHANNELS,
        )
        s.execute(
            update(cf).where(cf.c.customer_id == e.subject_id).values(last_txn_at=latest_txn_at(at), updated_at=now)
        )

    def assets(self, s: Session, e: Event, now: datetime) -> None:
        as_of = date.fromisoformat(e.data["as_of_date"])
        newer = (cf.c.aum_as_of_date.is_(None)) | (cf.c.aum_as_of_date <= as_of)
        _set(s, e.subject_id, now, newer, aum_fen=int(e.data["aum_fen"]), aum_as_of_date=as_of)

    def risk(self, s: Session, e: Event, now: datetime) -> None:
        _set(s, e.subject_id, now, risk_level=e.data["level"], risk_expires_at=_time(e.data["expires_at"]))

    def consent(self, s: Session, e: Event, now: datetime) -> None:
        d = e.data
        if d.get("purpose", "marketing") != "marketing":
            return _ensure_row(s, e.subject_id, now)
        channels = sorted(set(d.get("contactable_channels") or []))
        ok = bool(channels) and not d.get("do_not_contact", False)
        _set(s, e.subject_id, now, is_marketing_contactable=ok, contactable_channels=",".join(channels if ok else []))

    def points(self, s: Session, e: Event, now: datetime) -> None:
        _set(s, e.subject_id, now, points_balance=int(e.data["balance"]))

    def survey(self, s: Session, e: Event, now: datetime) -> None:
        nps = e.data.get("nps")
        if nps is None:
            return _ensure_row(s, e.subject_id, now)
        at = _time(e.data["responded_at"]) if "responded_at" in e.data else e.occurred_at
        newer = cf.c.nps_at.is_(None) | (cf.c.nps_at <= at)
        _set(s, e.subject_id, now, newer, nps_latest=int(nps), nps_at=at)


__all__ = ["FeatureHandlers", "refresh_customer"]
