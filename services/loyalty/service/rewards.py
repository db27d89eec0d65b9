"""The rewards catalogue and redemptions: eligibility, balance and stock checked, stock decremented and
the ledger debited in one transaction; vouchers with unique codes used once; cancellation within the
reward's window gives back points (to the same lots) and stock."""

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exc, func, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.approvals import Approval, ApprovalBook, Executor, pending_conflict
from services.common.auth import Principal
from services.common.db import Database, is_unique_violation, rows_affected, utcnow
from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.etag import check_version
from services.common.idempotency import IdempotencyRequest, StoredResponse, find_stored, store_response
from services.common.outbox import record_event
from services.common.pagination import decode_cursor, newest_first, page_of, time_id_key
from services.loyalty.models import PointsAccount, Redemption, Reward, idempotency, outbox
from services.loyalty.service.accounts import segments_of
from services.loyalty.service.classes import ClassCatalogue
from services.loyalty.service.ledger import Posting, add_effect, commit, debit, lock_account, require_active, restore
from services.loyalty.service.offers import available, rewards_seen_by, visible
from services.loyalty.service.policy import Policy

NULLABLE = frozenset({"stock", "active_until", "per_customer_limit"})
VOUCHER_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O or 1/I to misread


def reward_not_found(reward_id) -> NotFound:
    return NotFound(f"No reward {reward_id}", code="reward_not_found")


def redemption_not_found(redemption_id) -> NotFound:
    return NotFound(f"No redemption {redemption_id}", code="redemption_not_found")


def create_reward(db: Database, *, fields: dict[str, Any], policy: Policy, classes: ClassCatalogue) -> Reward:
    """409 reward_code_taken when the code exists; 422 for an eligible segment that is no class."""
    classes.check("eligible_segments", fields.get("eligible_segments"))
    now = policy.now()
    fields = {**fields, "active_from": fields.get("active_from") or now}
    with db.write() as s:
        if s.execute(select(Reward.id).where(Reward.code == fields["code"])).first():
            raise Conflict(f"A reward with code {fields['code']} exists", code="reward_code_taken")
        reward = Reward(**fields, created_at=now, updated_at=now)
        s.add(reward)
        try:
            commit(s, policy)
        except exc.IntegrityError as err:
            if is_unique_violation(err):
                raise Conflict(f"A reward with code {fields['code']} exists", code="reward_code_taken") from None
            raise
        return reward


RETIRE = "reward.retire"
TIMES = frozenset({"active_until"})


def update_reward(
    db: Database,
    *,
    reward_id: uuid.UUID,
    changes: dict[str, Any],
    expected_version: int,
    policy: Policy,
    classes: ClassCatalogue,
    actor: Principal,
    book: ApprovalBook | None = None,
) -> Reward | Approval:
    """Only the fields given change; 412 when stale; null only where a value may be absent; 422 for an
    eligible segment that is no class. With `book` (retirement under dual control), a change that
    retires an active reward is not made: it is stored as a pending approval request (returned), and
    made when a supervisor other than the maker approves it; 409 approval_pending while one waits."""
    nulls = [k for k, v in changes.items() if v is None and k not in NULLABLE]
    if nulls:
        raise InvalidInput([{"loc": ["body", k], "msg": "may not be null", "type": "null_not_allowed"} for k in nulls])
    classes.check("eligible_segments", changes.get("eligible_segments"))
    try:
        with db.write() as s:
            reward = _checked(s, reward_id, changes, expected_version)
            if book is not None and changes.get("is_retired") is True and not reward.is_retired:
                plain = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in changes.items()}
                payload = {"reward_id": str(reward_id), "version": expected_version, "changes": plain}
                row = book.request(
                    s, action=RETIRE, object_id=str(reward_id), payload=payload, why="retirement", maker=actor,
                    now=policy.now(),
                )  # fmt: skip
                s.commit()
                return row
            _apply(reward, changes, policy)
            commit(s, policy)
            return reward
    except exc.IntegrityError as err:  # a racing request for the same reward won the pending slot
        if not is_unique_violation(err):
            raise
        raise pending_conflict(RETIRE, str(reward_id)) from None


def _checked(s: Session, reward_id: uuid.UUID, changes: dict[str, Any], expected_version: int) -> Reward:
    reward = s.get(Reward, reward_id, with_for_update=True)
    if reward is None:
        raise reward_not_found(reward_id)
    check_version(reward.version, expected_version)
    until = changes.get("active_until", reward.active_until)
    if until is not None and until <= reward.active_from:
        raise InvalidInput([{"loc": ["body", "active_until"], "msg": "must be after active_from", "type": "window"}])
    return reward


def _apply(reward: Reward, changes: dict[str, Any], policy: Policy) -> None:
    changed = {k: v for k, v in changes.items() if getattr(reward, k) != v}
    if changed:
        for k, v in changed.items():
            setattr(reward, k, v)
        reward.version += 1
        reward.updated_at = policy.now()


def retirement_executor(policy: Policy) -> Executor:
    def retire_approved(s: Session, row: Approval, _checker: Principal, _now: datetime) -> dict[str, Any]:
        """Makes the change the request holds (412 when the reward changed since: the request stays
        pending, and a checker rejects it)."""
        p = row["payload"]
        changes = {k: datetime.fromisoformat(v) if k in TIMES and v else v for k, v in p["changes"].items()}
        reward = _checked(s, uuid.UUID(p["reward_id"]), changes, p["version"])
        _apply(reward, changes, policy)
        return {"version": reward.version}

    return retire_approved


def read_reward(
    db: Database, *, reward_id: uuid.UUID, principal: Principal | None = None, now: datetime | None = None
) -> Reward:
    """The reward; 404 for a customer when it is not offered now (services.loyalty.service.offers)."""
    with db.read() as s:
        reward = s.get(Reward, reward_id)
        customer = reward is not None and principal is not None and principal.is_customer
        if customer and not visible(s, rewards_seen_by(principal, now or utcnow()), Reward, reward_id):
            reward = None
    if reward is None:
        raise reward_not_found(reward_id)
    return reward


def list_rewards(
    db: Database,
    *,
    available_only: bool,
    limit: int,
    cursor: str | None,
    policy: Policy,
    principal: Principal | None = None,
) -> tuple[list[Reward], str | None]:
    """By code; those redeemable now with `available_only`, and always for a customer
    (services.loyalty.service.offers)."""
    after = decode_cursor(cursor)
    stmt = select(Reward).order_by(Reward.code).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(Reward.code > after[0])
    now = policy.now()
    if available_only:
        stmt = stmt.where(available(now))
    if principal is not None:
        stmt = stmt.where(rewards_seen_by(principal, now))
    with db.read() as s:
        rows = list(s.execute(stmt).scalars())
    return page_of(rows, limit, key=lambda r: [r.code])


def _voucher_code() -> str:
    return "V" + "".join(secrets.choice(VOUCHER_ALPHABET) for _ in range(12))


def _check_eligible(
    s: Session, reward: Reward, customer_id: uuid.UUID, tier: str, quantity: int, now: datetime
) -> None:
    if reward.is_retired or reward.active_from > now or (reward.active_until and reward.active_until <= now):
        raise Conflict(f"Reward {reward.code} is not available now", code="reward_unavailable")
    if reward.eligible_tiers and tier not in reward.eligible_tiers:
        raise Conflict(
            f"Reward {reward.code} is for tiers {', '.join(reward.eligible_tiers)}", code="reward_not_eligible"
        )
    if reward.eligible_segments and not (segments_of(s, customer_id) & set(reward.eligible_segments)):
        raise Conflict(f"Reward {reward.code} is for particular customer segments", code="reward_not_eligible")
    if reward.per_customer_limit is not None:
        taken = s.execute(
            select(func.coalesce(func.sum(Redemption.quantity), 0)).where(
                Redemption.customer_id == customer_id,
                Redemption.reward_id == reward.id,
                Redemption.status == "completed",
            )
        ).scalar_one()
        if taken + quantity > reward.per_customer_limit:
            raise Conflict(
                f"At most {reward.per_customer_limit} of {reward.code} per customer", code="reward_limit_reached"
            )


def _take_stock(s: Session, reward: Reward, quantity: int) -> None:
    if reward.stock is None:
        return
    # Conditional decrement: atomic on both databases, whatever another transaction did meanwhile.
    result = s.execute(
        update(Reward)
        .where(col(Reward.id) == reward.id, col(Reward.stock) >= quantity)
        .values(stock=col(Reward.stock) - quantity)
    )
    done = rows_affected(result)
    if done != 1:
        raise Conflict(f"Reward {reward.code} is out of stock", code="reward_out_of_stock")
    s.refresh(reward)


def _record_redeemed(s: Session, account: PointsAccount, reward: Reward, redemption: Redemption) -> None:
    """The metric effect (published after the commit) and points.redeemed with the balance it leaves."""
    add_effect(s, ("redeemed", reward.code, redemption.points))
    record_event(
        s,
        outbox,
        type="points.redeemed",
        subject_id=str(account.customer_id),
        data={
            "entry_id": redemption.entry_id,
            "redemption_id": str(redemption.id),
            "reward_id": str(reward.id),
            "points": redemption.points,
            "balance": account.balance,
        },
    )


@dataclass(frozen=True)
class RedeemRequest:
    customer_id: uuid.UUID
    reward_id: uuid.UUID
    quantity: int


def redeem(
    db: Database, *, request: RedeemRequest, actor: Principal, idem: IdempotencyRequest | None, present, policy: Policy
) -> Redemption | StoredResponse:
    """One transaction: account locked, eligibility, stock, balance, ledger debit, points.redeemed.
    409 account_frozen, reward_unavailable, reward_not_eligible, reward_limit_reached,
    reward_out_of_stock, points_insufficient; 404 account_not_found, reward_not_found."""
    now = policy.now()
    with db.write() as s:
        if idem and (stored := find_stored(s, idempotency, idem)):
            return stored
        account = lock_account(s, request.customer_id)
        require_active(account)
        reward = s.get(Reward, request.reward_id)
        if reward is None:
            raise reward_not_found(request.reward_id)
        _check_eligible(s, reward, account.customer_id, policy.tier_for(account.lifetime_earned), request.quantity, now)
        _take_stock(s, reward, request.quantity)
        points = reward.points_price * request.quantity
        redemption_id = uuid.uuid4()
        entry = debit(
            s,
            account,
            kind="redeem",
            points=points,
            policy=policy,
            posting=Posting(source="redemption", source_ref=str(redemption_id), actor_sub=actor.sub),
            on_feed=False,  # points.redeemed below carries the balance
        )
        voucher = reward.type == "voucher"
        redemption = Redemption(
            id=redemption_id,
            customer_id=account.customer_id,
            reward_id=reward.id,
            quantity=request.quantity,
            points=points,
            entry_id=entry.id,
            created_at=now,
            cancel_until=now + timedelta(hours=reward.cancel_window_hours),
            voucher_code=_voucher_code() if voucher else None,
            voucher_valid_until=now + timedelta(days=reward.voucher_valid_days or 30) if voucher else None,
        )
        s.add(redemption)
        s.flush()
        if idem:
            store_response(s, idempotency, idem, 201, present(redemption))
        _record_redeemed(s, account, reward, redemption)
        commit(s, policy)
        return redemption


def read_redemption(db: Database, *, redemption_id: uuid.UUID) -> Redemption:
    with db.read() as s:
        redemption = s.get(Redemption, redemption_id)
    if redemption is None:
        raise redemption_not_found(redemption_id)
    return redemption


def list_redemptions(
    db: Database, *, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[Redemption], str | None]:
    """Newest first."""
    stmt = select(Redemption).where(Redemption.customer_id == customer_id)
    stmt = newest_first(stmt, Redemption.created_at, Redemption.id, cursor, limit)
    with db.read() as s:
        rows = list(s.execute(stmt).scalars())
    return page_of(rows, limit, key=time_id_key("created_at"))


def cancel_redemption(db: Database, *, redemption_id: uuid.UUID, actor: Principal, policy: Policy) -> Redemption:
    """Within the window: the points go back to the lots they came from, the stock comes back.
    409 redemption_cancelled, cancel_window_closed, voucher_used."""
    now = policy.now()
    with db.write() as s:
        found = s.get(Redemption, redemption_id)
        if found is None or (actor.is_customer and actor.sub != str(found.customer_id)):
            raise redemption_not_found(redemption_id)
        account = lock_account(s, found.customer_id)  # the account first, as redeem does: one lock order
        redemption = s.get(Redemption, redemption_id, with_for_update=True, populate_existing=True)
        assert redemption is not None  # the locked re-read of the row found above
        if redemption.status == "cancelled":
            raise Conflict("The redemption is already cancelled", code="redemption_cancelled")
        if now > redemption.cancel_until:
            raise Conflict("The cancellation window has closed", code="cancel_window_closed")
        if redemption.voucher_used_at is not None:
            raise Conflict("The voucher has been used", code="voucher_used")
        restore(
            s,
            account,
            redemption.entry_id,
            policy=policy,
            posting=Posting(
                source="redemption", source_ref=str(redemption.id), reason="redemption cancelled", actor_sub=actor.sub
            ),
        )
        s.execute(
            update(Reward)
            .where(Reward.id == redemption.reward_id, col(Reward.stock).is_not(None))
            .values(stock=col(Reward.stock) + redemption.quantity)
        )
        redemption.status, redemption.cancelled_at = "cancelled", now
        commit(s, policy)
        return redemption


def use_voucher(db: Database, *, code: str, policy: Policy) -> Redemption:
    """Marks a voucher used, once. 404 voucher_not_found; 409 voucher_used, voucher_expired, redemption_cancelled."""
    now = policy.now()
    with db.write() as s:
        redemption = s.execute(select(Redemption).where(Redemption.voucher_code == code).with_for_update()).scalar()
        if redemption is None:
            raise NotFound("No such voucher", code="voucher_not_found")
        if redemption.status == "cancelled":
            raise Conflict("The redemption was cancelled", code="redemption_cancelled")
        if redemption.voucher_used_at is not None:
            raise Conflict("The voucher has been used", code="voucher_used")
        if redemption.voucher_valid_until is None or redemption.voucher_valid_until <= now:
            raise Conflict("The voucher has expired", code="voucher_expired")
        redemption.voucher_used_at = now  # the row is locked (SQLite: the single writer)
        commit(s, policy)
        return redemption
