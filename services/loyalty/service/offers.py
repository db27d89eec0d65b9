"""What a customer is offered, and what staff see of the customer events. A customer sees the
customer events of its branch's line (its branch and every branch above it: a head-office lecture is
for everyone) that are scheduled, still open for registration (not yet started) and for everyone or
for a segment class the customer is in (loyalty's copy of segment.changed), and the rewards that are
active now and not retired (rewards carry no branch). A customer loyalty has not heard of from
profile yet has no line and is offered no event. Anything else looks absent (404). Staff and
supervisors see the events of their subtree and of the branches above theirs, and schedule events
only within their subtree."""

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, cast, false, func, or_, select, true
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.auth import Principal
from services.common.branch_scope import is_branch_bound
from services.common.branches import ancestor_codes, subtree_codes
from services.loyalty.models import CustomerEvent, Reward, branch
from services.loyalty.service.accounts import segments_of
from services.loyalty.service.branch_scope import customer_branch


def line_of(s: Session, code: str | None) -> list[str]:
    """`code` and the branches above it (none for no branch)."""
    return [code, *ancestor_codes(s, branch, code)] if code else []


def events_seen_by(s: Session, principal: Principal, now: datetime) -> ColumnElement[bool]:
    """The condition on CustomerEvent rows `principal` may see (every one for admin and system)."""
    if principal.is_customer:
        customer_id = uuid.UUID(principal.sub)
        line = line_of(s, customer_branch(s, customer_id))
        if not line:
            return false()
        return and_(
            col(CustomerEvent.branch_code).in_(line),
            CustomerEvent.status == "scheduled",
            CustomerEvent.starts_at > now,
            targets(segments_of(s, customer_id)),
        )
    if is_branch_bound(principal):
        if not principal.branch:
            return false()
        seen = subtree_codes(s, branch, principal.branch) | set(line_of(s, principal.branch))
        return col(CustomerEvent.branch_code).in_(sorted(seen)) if seen else false()
    return true()


def targets(classes: set[str]) -> ColumnElement[bool]:
    """The condition on CustomerEvent rows open to a customer in `classes`: those for everyone (no
    target segment) and those targeting one of them, as registration checks (event_not_eligible).
    The JSON list is matched as text, the class in its quotes (a class id holds no quote), so one
    condition serves both databases."""
    listed = cast(col(CustomerEvent.target_segments), Text)
    return or_(
        func.json_array_length(col(CustomerEvent.target_segments)) == 0,
        *(listed.contains(json.dumps(c), autoescape=True) for c in sorted(classes)),
    )


def rewards_seen_by(principal: Principal, now: datetime) -> ColumnElement[bool]:
    """The condition on Reward rows `principal` may see: for a customer, those redeemable now."""
    if not principal.is_customer:
        return true()
    return available(now)


def available(now: datetime) -> ColumnElement[bool]:
    """Rewards that are active now and not retired."""
    return and_(
        col(Reward.is_retired).is_(False),
        Reward.active_from <= now,
        col(Reward.active_until).is_(None) | (col(Reward.active_until) > now),
    )


def visible(s: Session, condition: ColumnElement[bool], model: Any, object_id: uuid.UUID) -> bool:
    """Does the row of `model` with `object_id` meet `condition`?"""
    return s.execute(select(model.id).where(model.id == object_id, condition)).first() is not None
