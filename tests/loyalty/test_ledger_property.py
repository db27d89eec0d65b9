"""The ledger invariant after a randomised sequence of operations (hypothesis): for every account the
stored balance equals the sum of its ledger entries and of its lots' remaining points, never goes
negative, and each entry's balance_after is the running sum."""

import uuid
from datetime import timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from services.common.auth import Principal
from services.common.db import Database
from services.common.errors import Conflict
from services.loyalty.app import build_approvals, build_policy
from services.loyalty.models import LedgerEntry, PointsAccount
from services.loyalty.service import accounts, adjustments, expiry, rewards
from services.loyalty.service.classes import ClassCatalogue
from services.loyalty.service.earning import Transaction, claw_back, earn_for_transaction
from services.loyalty.service.ledger import commit
from services.loyalty.service.rewards import RedeemRequest
from services.loyalty.service.rules import RuleParams, create_rule
from tests import dbkit
from tests.loyalty.conftest import START, Clock, loyalty_settings

SUP = Principal(sub="sup", role="supervisor")
NO_RULE_SEGMENTS = ClassCatalogue(None)  # the writes here name no class
CUSTOMERS = [uuid.UUID(int=i) for i in range(1, 4)]

op = st.one_of(
    st.tuples(st.just("adjust"), st.sampled_from(CUSTOMERS), st.integers(1, 400) | st.integers(-400, -1)),
    st.tuples(st.just("earn"), st.sampled_from(CUSTOMERS), st.integers(1, 500_000)),
    st.tuples(st.just("reverse"), st.sampled_from(CUSTOMERS), st.integers(0, 30)),
    st.tuples(st.just("redeem"), st.sampled_from(CUSTOMERS), st.integers(1, 3)),
    st.tuples(st.just("cancel"), st.sampled_from(CUSTOMERS), st.integers(0, 30)),
    st.tuples(st.just("time"), st.sampled_from(CUSTOMERS), st.integers(1, 200)),
    st.tuples(st.just("expire"), st.sampled_from(CUSTOMERS), st.just(0)),
)


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=st.lists(op, min_size=5, max_size=40))
def test_balance_equals_ledger_and_lots_after_any_sequence(loyalty_sqlite_template, tmp_path_factory, ops):
    path = dbkit.copy_sqlite(loyalty_sqlite_template, tmp_path_factory.mktemp("prop") / "loyalty.db")
    db = Database(dbkit.sqlite_url(path))
    clock = Clock(START)
    settings = loyalty_settings(db.url)
    policy = build_policy(settings, clock)
    book = build_approvals(settings, policy)
    try:
        _run(db, policy, book, clock, ops)
        _assert_invariant(db)
    finally:
        db.dispose()


def _run(db, policy, book, clock, ops):
    for cid in CUSTOMERS:
        accounts.enrol_customer(db, customer_id=cid, policy=policy)
        adjustments.adjust_points(
            db,
            customer_id=cid,
            points=200,
            reason="opening",
            actor=SUP,
            idem=None,
            present=None,
            present_pending=None,
            policy=policy,
            book=book,
        )
    create_rule(
        db,
        code="base",
        name="base",
        actor=SUP,
        policy=policy,
        classes=NO_RULE_SEGMENTS,
        params=RuleParams(
            kind="deposit",
            channel=None,
            points_per_100_cny=10,
            min_amount_fen=0,
            daily_cap=300,
            monthly_cap=None,
            multipliers=[],
            valid_from=START - timedelta(days=1),
            valid_until=None,
        ),
    )
    reward = rewards.create_reward(
        db,
        policy=policy,
        classes=NO_RULE_SEGMENTS,
        fields={
            "code": "gift",
            "name": "gift",
            "type": "gift",
            "points_price": 40,
            "stock": 4,
            "cancel_window_hours": 72,
        },
    )
    txns: list[Transaction] = []
    redemptions: list = []
    for n, (kind, cid, value) in enumerate(ops):
        try:
            if kind == "adjust":
                adjustments.adjust_points(
                    db,
                    customer_id=cid,
                    points=value,
                    reason="prop",
                    actor=SUP,
                    idem=None,
                    present=None,
                    present_pending=None,
                    policy=policy,
                    book=book,
                )
            elif kind == "earn":
                txn = Transaction(f"t{n}", f"E{n}", "deposit", value, "counter", clock(), None)
                txns.append((cid, txn))
                _apply(db, policy, lambda s, c=cid, t=txn: earn_for_transaction(s, c, t, policy))
            elif kind == "reverse" and txns:
                owner, original = txns[value % len(txns)]
                rev = Transaction(
                    f"r{n}", f"R{n}", "reversal", original.amount_fen, "counter", clock(), original.external_id
                )
                _apply(db, policy, lambda s, c=owner, t=rev: claw_back(s, c, t, policy))
            elif kind == "redeem":
                redemptions.append(
                    rewards.redeem(
                        db,
                        request=RedeemRequest(cid, reward.id, value),
                        actor=SUP,
                        idem=None,
                        present=None,
                        policy=policy,
                    )
                )
            elif kind == "cancel" and redemptions:
                rewards.cancel_redemption(
                    db, redemption_id=redemptions[value % len(redemptions)].id, actor=SUP, policy=policy
                )
            elif kind == "expire":
                expiry.run_expiry(db, policy=policy)
            else:  # "time", or nothing yet to reverse or cancel
                clock.advance(days=value)
            event(f"{kind} done")
        except Conflict as err:  # a refused operation (no points, no stock, window closed) changes nothing
            event(f"{kind} refused: {err.code}")


def _apply(db, policy, fn):
    with db.write() as s:
        fn(s)
        commit(s, policy)


def _assert_invariant(db):
    assert accounts.check_balances(db)[1] == []
    with db.read() as s:
        for account in s.execute(select(PointsAccount)).scalars():
            assert account.balance >= 0
            running = 0
            for entry in s.execute(
                select(LedgerEntry).where(LedgerEntry.customer_id == account.customer_id).order_by(LedgerEntry.id)
            ).scalars():
                running += entry.points
                assert entry.balance_after == running >= 0
