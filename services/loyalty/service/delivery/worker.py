"""The delivery worker: claims queued outreach channel by channel (a committed claim before anything is
sent), sends through the channel's sender, then marks each record sent, to be retried (backing off), or
failed. A channel that fails never holds up another. A claim whose sender died (older than the claim
time) is never sent again: its outcome is unknown, so the record fails as `outcome_unknown` rather than
risk a second message. Replicas share the work: claims skip rows another holds (SKIP LOCKED)."""

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, String, bindparam, case, cast, func, literal, select, update
from sqlmodel import col

from services.common.db import Database
from services.loyalty.models import Campaign, Outreach, PointsAccount
from services.loyalty.service.campaigns import render
from services.loyalty.service.delivery.channel import Message, Outcome, Sender
from services.loyalty.service.notifications import mark_pushed, notify_pushed, pending_pushes, push_payload
from services.loyalty.service.outreach import changed_event, record_changes

log = logging.getLogger("loyalty.delivery")


@dataclass(frozen=True)
class DeliveryRules:
    zone: ZoneInfo
    batch: int = 500
    max_attempts: int = 5
    backoff_seconds: float = 30.0
    claim_seconds: float = 120.0
    tier_for: Callable[[int], str] = lambda _points: "standard"


@dataclass
class Tally:
    """What one pass did, per channel: (channel, outcome) -> count; failures by (channel, reason)."""

    outcomes: dict[tuple[str, str], int] = field(default_factory=dict)
    failures: dict[tuple[str, str], int] = field(default_factory=dict)
    full: bool = False  # a channel filled its batch and sent: more is likely waiting

    def add(self, channel: str, outcome: Outcome) -> None:
        self.outcomes[(channel, outcome.result)] = self.outcomes.get((channel, outcome.result), 0) + 1
        if outcome.result != "sent":
            key = (channel, outcome.reason or "unknown")
            self.failures[key] = self.failures.get(key, 0) + 1


def in_quiet_hours(campaign: Campaign, now: datetime, zone: ZoneInfo) -> bool:
    start, end = time.fromisoformat(campaign.quiet_start), time.fromisoformat(campaign.quiet_end)
    if start == end:
        return False
    local = now.astimezone(zone).time()
    return start <= local < end if start < end else local >= start or local < end


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        senders: Sequence[Sender],
        rules: DeliveryRules,
        clock: Callable[[], datetime],
        on_tally: Callable[[Tally], None] = lambda tally: None,
    ):
        self.db, self.senders, self.rules, self.clock, self.on_tally = db, list(senders), rules, clock, on_tally

    def run_once(self) -> Tally:
        """One pass: lapsed claims and closed windows first, then each channel's batch."""
        tally = Tally()
        now = self.clock()
        self._push_inbox(tally)
        with self.db.read() as s:  # an idle suite (no launched campaign) costs one read per pass
            if s.execute(select(Campaign.id).where(Campaign.status == "launched").limit(1)).first() is None:
                return tally
        self._settle(now, tally)
        open_ids, campaigns = self._open_campaigns(now)
        for sender in self.senders:
            if not open_ids:
                break
            try:
                self._channel(sender, open_ids, campaigns, now, tally)
            except Exception as err:  # noqa: BLE001 - one channel's trouble must not stop the others
                log.warning(
                    "delivery pass failed", extra={"fields": {"channel": sender.channel, "error": type(err).__name__}}
                )
        self.on_tally(tally)
        return tally

    def _push_inbox(self, tally: Tally) -> None:
        """Pushes inbox notifications made while the customer could be pushed to (push_state pending)
        through the app push channel, and marks those the broker acknowledged. At least once: a crash
        between the PUBACK and the mark pushes it again, and the app de-duplicates by its message_id."""
        publisher = next((p for p in self.senders if p.channel == "app_push" and hasattr(p, "publish")), None)
        if publisher is None:
            return
        try:
            pending = pending_pushes(self.db, limit=self.rules.batch)
            if not pending:
                return
            reasons = publisher.publish([(str(n.customer_id), push_payload(n)) for n in pending])  # type: ignore[attr-defined]
        except Exception as err:  # noqa: BLE001 - the broker may be away: the notifications stay pending
            log.warning("inbox push failed", extra={"fields": {"error": type(err).__name__}})
            return
        pushed = [n.id for n, reason in zip(pending, reasons, strict=True) if reason is None and n.id is not None]
        for reason in reasons:
            tally.add("app_push", Outcome("sent") if reason is None else Outcome("retry", reason))
        if pushed:
            mark_pushed(self.db, notification_ids=pushed)

    def _settle(self, now: datetime, tally: Tally) -> None:
        lapsed_before = now - timedelta(seconds=self.rules.claim_seconds)
        with self.db.write() as s:
            lapsed = list(
                s.execute(
                    select(Outreach)
                    .where(Outreach.state == "queued", col(Outreach.claimed_at) < lapsed_before)
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
            closed = list(
                s.execute(
                    select(Outreach)
                    .join(Campaign, Campaign.id == Outreach.campaign_id)  # type: ignore[arg-type]
                    .where(
                        Outreach.state == "queued",
                        col(Outreach.claim_token).is_(None),
                        Campaign.status == "launched",
                        Campaign.send_until <= now,
                    )
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
            events = []
            for rows, reason in ((lapsed, "outcome_unknown"), (closed, "window_closed")):
                for row in rows:
                    row.state, row.failure_reason, row.failed_at, row.updated_at = "failed", reason, now, now
                    row.claim_token = None
                    events.append(changed_event(row, "failed", now, reason))
                    tally.add(row.channel, Outcome("failed", reason))
            # a campaign whose window has closed is finished: later passes no longer look at it
            s.execute(
                update(Campaign)
                .where(Campaign.status == "launched", Campaign.send_until <= now)  # type: ignore[arg-type]
                .values(status="finished")
            )
            record_changes(s, events)
            s.commit()

    def _open_campaigns(self, now: datetime) -> tuple[list[uuid.UUID], dict[uuid.UUID, Campaign]]:
        with self.db.read() as s:
            rows = list(
                s.execute(
                    select(Campaign).where(
                        Campaign.status == "launched", Campaign.send_from <= now, Campaign.send_until > now
                    )
                ).scalars()
            )
            for c in rows:
                s.expunge(c)
        sendable = {c.id: c for c in rows if not in_quiet_hours(c, now, self.rules.zone)}
        return list(sendable), sendable

    def _claim(self, channel: str, open_ids: list[uuid.UUID], now: datetime) -> tuple[str, list[Row[Any]]]:
        """Claims up to a batch of due records in one statement (rows another claim holds are skipped), and
        returns the columns sending needs (id, campaign_id, customer_id, channel, purpose, attempts)."""
        token = str(uuid.uuid4())
        due = (
            select(Outreach.id)
            .where(
                Outreach.state == "queued",
                Outreach.channel == channel,
                col(Outreach.claim_token).is_(None),
                Outreach.next_attempt_at <= now,
                col(Outreach.campaign_id).in_(open_ids),
            )
            .order_by(Outreach.next_attempt_at)  # type: ignore[arg-type]  # the index's order: LIMIT stops early
            .limit(self.rules.batch)
            .with_for_update(skip_locked=True)
        )
        t = Outreach.__table__  # type: ignore[attr-defined]
        claim = (
            update(t)
            .where(t.c.id.in_(due.scalar_subquery()))
            .values(claim_token=token, claimed_at=now, attempts=t.c.attempts + 1)
            .returning(t.c.id, t.c.campaign_id, t.c.customer_id, t.c.channel, t.c.purpose, t.c.attempts)
        )
        with self.db.write() as s:
            rows = list(s.execute(claim).all())
            s.commit()  # the claim is durable before anything is sent
        return token, rows

    def _messages(self, rows: Sequence[Any], campaigns: dict[uuid.UUID, Campaign]) -> list[Message]:
        with self.db.read() as s:
            accounts = {
                a.customer_id: a
                for a in s.execute(
                    select(PointsAccount).where(col(PointsAccount.customer_id).in_({r.customer_id for r in rows}))
                ).scalars()
            }
        messages = []
        for row in rows:
            c = campaigns[row.campaign_id]
            account = accounts.get(row.customer_id)
            values = {
                "points_balance": str(account.balance if account else 0),
                "tier": self.rules.tier_for(account.lifetime_earned if account else 0),
                "campaign_name": c.name,
                "product_code": c.product_code or "",
                "send_until_date": c.send_until.astimezone(self.rules.zone).date().isoformat(),
            }
            messages.append(
                Message(row.id or 0, row.customer_id, row.campaign_id, row.purpose, render(c.template, values))
            )
        return messages

    def _channel(
        self,
        sender: Sender,
        open_ids: list[uuid.UUID],
        campaigns: dict[uuid.UUID, Campaign],
        now: datetime,
        tally: Tally,
    ) -> None:
        token, rows = self._claim(sender.channel, open_ids, now)
        if not rows:
            return
        messages = self._messages(rows, campaigns)
        try:
            outcomes = sender.send(messages)
        except Exception as err:  # noqa: BLE001 - the whole batch is retried after its back-off
            log.warning("sender failed", extra={"fields": {"channel": sender.channel, "error": type(err).__name__}})
            outcomes = [Outcome("retry", "sender_error") for _ in messages]
        self.mark(token, rows, outcomes, tally, messages if sender.channel == "app_push" else None, campaigns)
        # a full batch that went out: go on at once (a failing channel keeps to the interval instead)
        tally.full = tally.full or (len(rows) >= self.rules.batch and any(o.result == "sent" for o in outcomes))

    def mark(
        self,
        token: str,
        rows: Sequence[Any],
        outcomes: list[Outcome],
        tally: Tally,
        pushed: list[Message] | None = None,
        campaigns: dict[uuid.UUID, Campaign] | None = None,
    ) -> None:
        """Writes each claimed record's outcome (only while the claim is still this pass's), one statement
        per kind of outcome; a campaign message the app push carried (`pushed`) also goes into the
        customer's inbox, in the same transaction, already pushed."""
        now = self.clock()
        keyed: list[dict[str, Any]] = []
        sent: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        retry: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for row, outcome in zip(rows, outcomes, strict=True):
            tally.add(row.channel, outcome)
            if outcome.result == "sent":
                (keyed if outcome.provider_ref == f"outreach-{row.id}" else sent).append(
                    {"b_id": row.id, "b_ref": outcome.provider_ref}
                )
                events.append(changed_event(row, "sent", now))
            elif outcome.result == "failed" or row.attempts >= self.rules.max_attempts:
                failed.append({"b_id": row.id, "b_reason": outcome.reason})
                events.append(changed_event(row, "failed", now, outcome.reason))
            else:
                delay = self.rules.backoff_seconds * 2 ** max(row.attempts - 1, 0)
                retry.append({"b_id": row.id, "b_reason": outcome.reason, "b_at": now + timedelta(seconds=delay)})
        t = Outreach.__table__  # type: ignore[attr-defined]
        mine = update(t).where(t.c.id == bindparam("b_id"), t.c.claim_token == token)
        released = {"claim_token": None, "claimed_at": None, "updated_at": now}
        with self.db.write() as s:
            for params, values in (
                (sent, sent_values(t, now)),
                (failed, {"state": "failed", "failed_at": now, "failure_reason": bindparam("b_reason")}),
                (retry, {"next_attempt_at": bindparam("b_at"), "failure_reason": bindparam("b_reason")}),
            ):
                if params:
                    s.execute(mine.values(**released, **values), params)
            if keyed:  # the usual case, in one statement: the provider's reference is the message's own key
                ids = [p["b_id"] for p in keyed]
                values = sent_values(t, now) | {"provider_ref": literal("outreach-") + cast(t.c.id, String)}
                s.execute(update(t).where(t.c.id.in_(ids), t.c.claim_token == token).values(**released, **values))
            notify_pushed(s, items=inbox_items(pushed or [], outcomes, campaigns or {}), now=now)
            record_changes(s, events)
            s.commit()


def inbox_items(pushed: list[Message], outcomes: list[Outcome], campaigns: dict[uuid.UUID, Campaign]) -> list[dict]:
    """The inbox notification of each campaign message the app push carried (its outcome sent)."""
    items = []
    for message, outcome in zip(pushed, outcomes, strict=False):
        if outcome.result == "sent":
            campaign = campaigns.get(message.campaign_id)
            items.append(
                {
                    "customer_id": message.customer_id,
                    "key": f"campaign:{message.campaign_id}:{message.customer_id}",
                    "kind": "campaign",
                    "title": campaign.name if campaign else "",
                    "body": message.body,
                    "data": {"campaign_id": str(message.campaign_id), "outreach_id": message.outreach_id},
                }
            )
    return items


def sent_values(t: Any, now: datetime) -> dict[str, Any]:
    """Sent, unless a receipt moved the record further while it was being sent (the app may acknowledge
    a push before the sender hears the broker's PUBACK): a state never moves back."""
    return {
        "state": case((t.c.state == "queued", "sent"), else_=t.c.state),
        "sent_at": func.coalesce(t.c.sent_at, now),
        "provider_ref": bindparam("b_ref"),
    }


class DeliveryThread:
    """Runs DeliveryWorker.run_once every `interval` seconds in a daemon thread for the app's lifetime, and
    at once again after a pass that filled a batch (a large campaign drains at the worker's own pace)."""

    def __init__(self, worker: DeliveryWorker, interval: float):
        self.worker, self.interval = worker, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        full = False
        while not self._stop.wait(0 if full else self.interval):
            try:
                full = self.worker.run_once().full
            except Exception as err:  # noqa: BLE001 - the database may be away for a moment; try again
                full = False
                log.warning("delivery pass failed", extra={"fields": {"error": type(err).__name__}})

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="delivery", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for sender in self.worker.senders:
            close = getattr(sender, "close", None)
            if close is not None:
                close()
