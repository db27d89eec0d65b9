"""Event-feed handlers: profile (enrolment by agreement, freezing, earning and claw-back from
transactions, the copy of who may be reached, conversions from holdings), segmentation (segments for
multipliers, eligibility and campaign audiences) and feedback (survey bonuses); care and the inbox
(services.loyalty.service.inbox_feed) read profile's and feedback's too, and the customer's branch
copy (services.loyalty.service.branch_scope) profile's. Where several parts follow one event type,
each runs in turn. Each handler runs inside the consumer's batch transaction, so an event and the
cursor move together."""

import logging
import uuid
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from typing import Literal

import httpx
from pydantic import AwareDatetime, BaseModel, ValidationError
from sqlalchemy import delete, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.branches import branch_handlers
from services.common.consumer import FeedConsumer, Handler, system_token_source
from services.common.db import Database, upsert_insert
from services.common.outbox import Event
from services.loyalty.config import LoyaltySettings
from services.loyalty.models import Activity, CustomerSegment, branch, consumer_cursor
from services.loyalty.service import inbox_feed, reach
from services.loyalty.service.accounts import ensure_account, freeze_account
from services.loyalty.service.activities import awards_for_trigger
from services.loyalty.service.branch_scope import customer_handlers
from services.loyalty.service.earning import (
    Transaction,
    claw_back,
    earn_for_transaction,
    hold_accounts,
    preload_earned,
    prelock_accounts,
)
from services.loyalty.service.erasure import erase_customer
from services.loyalty.service.ledger import defer_credits, flush_outbox, orm_takes, release_accounts
from services.loyalty.service.outreach import credit_conversion
from services.loyalty.service.policy import Effect, Policy

log = logging.getLogger("loyalty.consumers")


class TransactionRecorded(BaseModel):
    transaction_id: str
    external_id: str
    kind: str
    amount_fen: int
    channel: str
    occurred_at: AwareDatetime
    customer_initiated: bool = False
    reverses_external_id: str | None = None


class AgreementSigned(BaseModel):
    agreement_type: str


class SegmentChanged(BaseModel):
    scheme: str
    to_class: str | None = None
    changed_at: AwareDatetime


class SurveyResponded(BaseModel):
    response_id: str


def _customer(event: Event) -> uuid.UUID | None:
    return _customer_id(event.subject_id)


@lru_cache(maxsize=65_536)  # a batch names the same customers again and again
def _customer_id(subject_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(subject_id)
    except ValueError:
        return None


def _transaction(t: TransactionRecorded) -> Transaction:
    return Transaction(
        transaction_id=t.transaction_id,
        external_id=t.external_id,
        kind=t.kind,
        amount_fen=t.amount_fen,
        channel=t.channel,
        occurred_at=t.occurred_at,
        reverses_external_id=t.reverses_external_id,
    )


def _read_transaction(event: Event) -> tuple[TransactionRecorded, Transaction]:
    t = TransactionRecorded.model_validate(event.data)
    return t, _transaction(t)


def _has_activities(s: Session, trigger: str) -> bool:
    """Whether any active activity is bound to the trigger; asked once per unit of work (a consumer batch)."""
    known = s.info.setdefault("has_activities", {})
    if trigger not in known:
        stmt = select(Activity.code).where(Activity.trigger == trigger, col(Activity.is_retired).is_(False)).limit(1)
        known[trigger] = s.execute(stmt).first() is not None
    return known[trigger]


def _on_transaction(s: Session, event: Event, policy: Policy) -> None:
    # read once per batch by LoyaltyConsumer._earning, which keeps it by the event object's id
    t, txn = s.info.get("transactions", {}).get(id(event)) or _read_transaction(event)
    customer_id = _customer(event)
    if t.kind == "reversal":
        claw_back(s, customer_id, txn, policy)
        return
    earn_for_transaction(s, customer_id, txn, policy)
    if t.channel == "mobile" and t.customer_initiated and _has_activities(s, "mobile_first_login"):
        orm_takes(s, customer_id)
        awards_for_trigger(s, customer_id, "mobile_first_login", "first", policy)


def _on_agreement(s: Session, event: Event, policy: Policy) -> None:
    if AgreementSigned.model_validate(event.data).agreement_type == "loyalty_programme":
        ensure_account(s, _customer(event), via="agreement", policy=policy)


def _on_closed(reason: str):
    def handle(s: Session, event: Event, policy: Policy) -> None:
        freeze_account(s, _customer(event), reason=reason, policy=policy)
        reach.on_closed(s, _customer(event), event.occurred_at)
        if reason == "customer_erased":  # followers drop what they hold about the person
            erase_customer(s, _customer(event))

    return handle


class HoldingChanged(BaseModel):
    product_code: str
    status: str
    opened_on: date


def _on_registered(s: Session, event: Event, _policy: Policy) -> None:
    reach.on_registered(s, _customer(event), event.data, event.occurred_at)


def _on_updated(s: Session, event: Event, _policy: Policy) -> None:
    reach.on_updated(s, _customer(event), event.data, event.occurred_at)


def _on_consent(s: Session, event: Event, _policy: Policy) -> None:
    reach.on_consent(s, _customer(event), event.data, event.occurred_at)


def _on_holding(s: Session, event: Event, policy: Policy) -> None:
    """A product now held may convert the outreach of a campaign promoting it (docs/api-loyalty.md)."""
    h = HoldingChanged.model_validate(event.data)
    if h.status == "held":
        credit_conversion(s, _customer(event), h.product_code, h.opened_on, policy.zone, event.occurred_at)


def _on_segment(s: Session, event: Event, _policy: Policy) -> None:
    e = SegmentChanged.model_validate(event.data)
    customer_id = _customer(event)
    if e.to_class is None:
        s.execute(
            delete(CustomerSegment).where(
                CustomerSegment.customer_id == customer_id, CustomerSegment.scheme == e.scheme
            )
        )
        return
    stmt = upsert_insert(s)(CustomerSegment).values(
        customer_id=customer_id, scheme=e.scheme, class_name=e.to_class, changed_at=e.changed_at
    )
    s.execute(
        stmt.on_conflict_do_update(
            index_elements=["customer_id", "scheme"], set_={"class_name": e.to_class, "changed_at": e.changed_at}
        )
    )


def _on_survey(s: Session, event: Event, policy: Policy) -> None:
    awards_for_trigger(
        s, _customer(event), "survey_responded", SurveyResponded.model_validate(event.data).response_id, policy
    )


def _in_turn(*fns: Callable[[Session, Event, Policy], None]) -> Callable[[Session, Event, Policy], None]:
    def handle(s: Session, event: Event, policy: Policy) -> None:
        for fn in fns:
            fn(s, event, policy)

    return handle


FEEDS: dict[str, dict[str, Callable[[Session, Event, Policy], None]]] = {
    "profile": {
        "transaction.recorded": _on_transaction,
        "agreement.signed": _on_agreement,
        "customer.closed": _on_closed("customer_closed"),
        "customer.erased": _on_closed("customer_erased"),
        "customer.registered": _on_registered,
        "customer.updated": _on_updated,
        "consent.changed": _on_consent,
        "holding.changed": _on_holding,
    },
    "segmentation": {"segment.changed": _on_segment},
    "feedback": {"survey.responded": _on_survey},
}
# Care and the inbox follow some of the same events (each part in turn, in this order).
for _feed, _more in (("profile", inbox_feed.PROFILE), ("feedback", inbox_feed.FEEDBACK)):
    for _type, _fn in _more.items():
        if _type in FEEDS[_feed] and FEEDS[_feed][_type] is not _fn:
            FEEDS[_feed][_type] = _in_turn(FEEDS[_feed][_type], _fn)
        else:
            FEEDS[_feed][_type] = _fn
Feed = Literal["profile", "segmentation", "feedback"]


def _then(first: Handler, second: Handler) -> Handler:
    def handle(s: Session, event: Event) -> None:
        first(s, event)
        second(s, event)

    return handle


class LoyaltyConsumer(FeedConsumer):
    """A FeedConsumer whose metric effects are published only once its batch has committed."""

    def __init__(self, *, feed: Feed, policy: Policy, **kw):
        self.policy = policy
        self.pending: list[Effect] = []
        self.batch: list[tuple[uuid.UUID, Transaction]] = []  # the batch's earning transactions
        # the batch's transaction.recorded payloads, by id() of the event
        self.transactions: dict[int, tuple[TransactionRecorded, Transaction]] = {}
        handlers = {etype: self._wrap(fn) for etype, fn in FEEDS[feed].items()}
        if feed == "profile":  # the organisation tree's events name a branch, not a customer
            handlers |= branch_handlers(branch)
            for etype, copy_branch in customer_handlers().items():  # the customer's branch, besides the rest
                handlers[etype] = _then(handlers[etype], copy_branch) if etype in handlers else copy_branch
        super().__init__(name=f"loyalty-{feed}", feed=feed, handlers=handlers, cursor_table=consumer_cursor, **kw)

    def _wrap(self, fn: Callable[[Session, Event, Policy], None]) -> Handler:
        def handle(s: Session, event: Event) -> None:
            if _customer(event) is None:
                log.warning(
                    "event without a customer subject skipped",
                    extra={"fields": {"consumer": self.name, "position": event.position, "type": event.type}},
                )
                return
            if self.batch and not s.info.get("preloaded"):
                # the accounts and cap totals of the batch's transactions in a few queries, not some per event
                s.info["preloaded"] = True
                s.info["transactions"] = self.transactions
                defer_credits(s)  # the batch's earnings written together, as they commit
                sa_event.listen(s, "before_commit", flush_outbox)  # the batch's events, with its cursor move
                hold_accounts(s, {customer_id for customer_id, _ in self.batch})
                preload_earned(s, self.batch, self.policy)
            if event.type != "transaction.recorded":
                # whatever else reads or writes accounts and the ledger sees every earning before it,
                # and the accounts the batch held without the ORM go to the ORM, in one query
                prelock_accounts(s, release_accounts(s))
            try:
                fn(s, event, self.policy)
            except ValidationError:
                # A malformed event must not stall the feed for ever; it is logged and passed over.
                log.warning(
                    "malformed event skipped",
                    extra={"fields": {"consumer": self.name, "position": event.position, "type": event.type}},
                )
            self.pending.extend(s.info.pop("effects", []))

        return handle

    def _earning(self, events: list[Event]) -> list[tuple[uuid.UUID, Transaction]]:
        batch = []
        for event in events:
            if event.type == "transaction.recorded" and (customer_id := _customer(event)) is not None:
                try:
                    t, txn = self.transactions[id(event)] = _read_transaction(event)
                except ValidationError:
                    continue
                if t.kind != "reversal":
                    batch.append((customer_id, txn))
        return batch

    def apply(self, events: list[Event]) -> int:
        self.pending = []
        self.transactions = {}
        self.batch = self._earning(events)
        try:
            applied = super().apply(events)
        except BaseException:
            self.pending = []
            raise
        finally:
            self.batch = []
            self.transactions = {}
        for effect in self.pending:
            self.policy.sink(effect)
        self.pending = []
        return applied


def build_consumer(
    feed: Feed, *, db: Database, policy: Policy, settings: LoyaltySettings, url: str, client: httpx.Client | None = None
) -> LoyaltyConsumer:
    return LoyaltyConsumer(
        feed=feed,
        policy=policy,
        db=db,
        client=client or httpx.Client(timeout=10),
        feed_url=url,
        token=system_token_source(settings, "loyalty-consumer"),
        batch_size=settings.feed_batch_size,
        wait_seconds=settings.feed_wait_seconds,
    )
