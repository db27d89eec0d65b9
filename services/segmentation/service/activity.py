"""The daily activity aggregate behind the windowed features: counting a customer-initiated
transaction into its day, taking a reversed one out again, and pruning what no window can reach."""

from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import bindparam, case, delete, func, select, update
from sqlalchemy.orm import Session

from services.common.db import rows_affected, upsert_insert
from services.segmentation.models import counted_transaction, customer_feature, daily_activity

cf, da, ct = customer_feature.c, daily_activity.c, counted_transaction.c
LONGEST_WINDOW_DAYS = 365


@lru_cache(maxsize=4)
def _count_statements(dialect: str):
    """Built once per dialect with bound parameters: an event only executes them."""
    insert = upsert_insert(dialect)
    names = ("external_id", "customer_id", "occurred_at", "day", "amount_fen", "is_digital")
    remember = insert(counted_transaction).values({n: bindparam(n) for n in names}).on_conflict_do_nothing()
    add = insert(daily_activity).values(
        customer_id=bindparam("customer_id"),
        day=bindparam("day"),
        txn_count=1,
        amount_fen=bindparam("amount_fen"),
        digital_count=bindparam("digital_count"),
    )
    add = add.on_conflict_do_update(
        index_elements=[da.customer_id, da.day],
        set_={
            "txn_count": da.txn_count + 1,
            "amount_fen": da.amount_fen + add.excluded.amount_fen,
            "digital_count": da.digital_count + add.excluded.digital_count,
        },
    )
    return remember, add


def count_transaction(
    s: Session, *, customer_id: str, external_id: str | None, at: datetime, amount_fen: int, is_digital: bool
) -> None:
    """Adds one transaction to its customer's day and remembers it (by external id) for a reversal.
    A repeated external id is counted once. The caller moves `last_txn_at` (see latest_txn_at)."""
    remember, add = _count_statements(s.get_bind().dialect.name)
    params = {"customer_id": customer_id, "day": at.date(), "amount_fen": amount_fen}
    if external_id is not None:
        kept = s.execute(remember, params | {"external_id": external_id, "occurred_at": at, "is_digital": is_digital})
        if rows_affected(kept) == 0:
            return
    s.execute(add, params | {"digital_count": int(is_digital)})


def latest_txn_at(at: datetime):
    """The customer's last transaction time once one at `at` is counted (for an UPDATE's values)."""
    return case((cf.last_txn_at.is_(None), at), (cf.last_txn_at < at, at), else_=cf.last_txn_at)


def reverse_transaction(s: Session, *, external_id: str) -> str | None:
    """Takes a counted transaction out of its day (count, amount, digital count) and moves the
    customer's last transaction time back to the latest one still counted (null when none is kept).
    Returns the customer, or None when the original is unknown or already pruned (nothing changes)."""
    row = s.execute(select(counted_transaction).where(ct.external_id == external_id)).first()
    if row is None:
        return None
    s.execute(delete(counted_transaction).where(ct.external_id == external_id))
    day = (da.customer_id == row.customer_id, da.day == row.day)
    s.execute(
        update(daily_activity)
        .where(*day)
        .values(
            txn_count=da.txn_count - 1,
            amount_fen=da.amount_fen - row.amount_fen,
            digital_count=da.digital_count - int(row.is_digital),
        )
    )
    s.execute(delete(daily_activity).where(*day, da.txn_count <= 0))
    latest = select(func.max(ct.occurred_at)).where(ct.customer_id == row.customer_id).scalar_subquery()
    s.execute(
        update(customer_feature)
        .where(cf.customer_id == row.customer_id, cf.last_txn_at <= row.occurred_at)
        .values(last_txn_at=latest)
    )
    return row.customer_id


def prune_activity(s: Session, *, now: datetime) -> int:
    """Daily rows and counted transactions older than the longest window (none of them can move a
    window any more, so neither can their reversal). Returns the daily rows removed."""
    cutoff = now.date() - timedelta(days=LONGEST_WINDOW_DAYS)
    s.execute(delete(counted_transaction).where(ct.day <= cutoff))
    return rows_affected(s.execute(delete(daily_activity).where(da.day <= cutoff)))


def forget_customer(s: Session, *, customer_id: str) -> None:
    s.execute(delete(counted_transaction).where(ct.customer_id == customer_id))
    s.execute(delete(daily_activity).where(da.customer_id == customer_id))
