"""Event handlers for the profile, loyalty and feedback feeds: each event updates the customer's
features and then, in the same transaction, the customer's classes and rule-segment memberships
(the FeedConsumer commits the batch together with its cursor: exactly once)."""

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import case, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services.common.outbox import Event
from services.segmentation.classify import Scope, classify, refresh_rule_segment, refresh_windows, remove_from_all
from services.segmentation.config import SegmentationSettings
from services.segmentation.models import customer_feature, daily_activity, segment
from services.segmentation.rules import compile_rule

cf = customer_feature
DIGITAL_CHANNELS = ("mobile", "online")
PROFILE_FIELDS = ("region_type", "province", "city", "branch_code")
Clock = Callable[[], datetime]


def _insert(s: Session):
    return pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert


def _ensure_row(s: Session, customer_id: str, now: datetime) -> None:
    s.execute(_insert(s)(cf).values(customer_id=customer_id, updated_at=now).on_conflict_do_nothing())


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
    for seg_id, rule in s.execute(select(segment.c.id, segment.c.rule)).all():
        refresh_rule_segment(s, segment_id=seg_id, rule=compile_rule(rule, now=now), now=now, scope=scope)


class FeatureHandlers:
    """One handler per event type; `clock` is injected so tests fix the time windows are measured from."""

    def __init__(self, settings: SegmentationSettings, clock: Clock):
        self.settings, self.clock = settings, clock

    def handlers(self) -> dict[str, Callable[[Session, Event], None]]:
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
            "survey.responded": self.survey,
        }
        wrapped = {name: self._then_refresh(fn) for name, fn in simple.items()}
        wrapped["customer.erased"] = lambda s, e: remove_from_all(s, customer_id=e.subject_id)
        return wrapped

    def _then_refresh(self, fn):
        def handle(s: Session, event: Event) -> None:
            now = self.clock()
            fn(s, event, now)
            refresh_customer(s, customer_id=event.subject_id, settings=self.settings, now=now)

        return handle

    def registered(self, s: Session, e: Event, now: datetime) -> None:
        d = e.data
        _set(s, e.subject_id, now, customer_no=d.get("customer_no"), type=d.get("type"),
             region_type=d.get("region_type"), province=d.get("province"), city=d.get("city"),
             branch_code=d.get("branch_code"), status=d.get("status", "active"), registered_at=e.occurred_at)

    def updated(self, s: Session, e: Event, now: datetime) -> None:
        changes = {k: e.data[k] for k in PROFILE_FIELDS if k in e.data}
        _set(s, e.subject_id, now, **changes)

    def closed(self, s: Session, e: Event, now: datetime) -> None:
        _set(s, e.subject_id, now, status="closed")

    def transaction(self, s: Session, e: Event, now: datetime) -> None:
        d = e.data
        _ensure_row(s, e.subject_id, now)
        if not d.get("customer_initiated") or d.get("kind") == "reversal":
            return  # interest, fees and reversals are not the customer's own activity
        at = _time(d["occurred_at"]) if "occurred_at" in d else e.occurred_at
        day: date = at.date()
        digital = 1 if d.get("channel") in DIGITAL_CHANNELS else 0
        ins = _insert(s)(daily_activity).values(
            customer_id=e.subject_id, day=day, txn_count=1, amount_fen=int(d["amount_fen"]), digital_count=digital
        )
        da = daily_activity.c
        s.execute(ins.on_conflict_do_update(
            index_elements=[da.customer_id, da.day],
            set_={"txn_count": da.txn_count + 1, "amount_fen": da.amount_fen + ins.excluded.amount_fen,
                  "digital_count": da.digital_count + ins.excluded.digital_count},
        ))
        latest = case((cf.c.last_txn_at.is_(None), at), (cf.c.last_txn_at < at, at), else_=cf.c.last_txn_at)
        _set(s, e.subject_id, now, last_txn_at=latest)

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
