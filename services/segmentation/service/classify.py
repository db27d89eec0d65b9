"""Set-based refresh of features and memberships: windowed features from the daily aggregate, the four
built-in schemes as CASE expressions, rule segments as compiled expressions. The same statements serve
one customer (an event, filtered by id) and every customer (a recompute job): incremental equals full
by construction. Only rows whose value changes are written (IS DISTINCT FROM), each change leaves a
history row and a segment.changed outbox event in the same transaction. Statements are built once per
settings and scope with bound parameters for the clock, so an event pays only for executing them."""

import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    String,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    type_coerce,
    union,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from services.common.db import UTCDateTime
from services.common.outbox import serialise_outbox_writes
from services.segmentation.config import SegmentationSettings
from services.segmentation.models import (
    SCHEMES,
    customer_feature,
    customer_holding,
    daily_activity,
    membership_change,
    outbox,
    segment_member,
)
from services.segmentation.service.activity import LONGEST_WINDOW_DAYS, forget_customer

cf = customer_feature
CUSTOMER_TYPES = ("individual", "enterprise", "interbank")
WINDOWS = (30, 90, LONGEST_WINDOW_DAYS)
CLASSIFY_LOCK = zlib.crc32(b"segmentation:classify")
HISTORY_COLS = ["customer_id", "scheme", "from_class", "to_class", "changed_at"]


@dataclass(frozen=True)
class Scope:
    """Which customers a refresh touches: one (an event) or all (None)."""

    customer_id: str | None = None

    @property
    def one(self) -> bool:
        return self.customer_id is not None

    def on(self, column):
        return column == self.customer_id if self.one else literal(True)


def _on(column, one: bool):
    return column == bindparam("cid") if one else true()


def _dialect(s: Session) -> str:
    return s.get_bind().dialect.name


def lock_classification(s: Session) -> None:
    """On PostgreSQL, feature and classification writes take one transaction lock (SQLite has one
    writer anyway), first thing in the transaction: history ids and outbox positions are handed out
    by one writer at a time, and a recompute's window update cannot read the daily rows from before
    a concurrent event's commit and then overwrite that event's fresh windows. Once per transaction."""
    if _dialect(s) != "postgresql":
        return
    transaction = s.get_transaction()
    if transaction is not None and s.info.get("classify_locked_in") is transaction:
        return
    s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CLASSIFY_LOCK})
    s.info["classify_locked_in"] = transaction


def window_start(today: date, days: int) -> date:
    """A window of N days holds the days after today - N (today and the N-1 before it)."""
    return today - timedelta(days=days)


def window_starts(day: date, name: str = "d") -> dict[str, date]:
    """Every window's start on `day`, bound as d30, d90, d365 (or p30... for the previous recompute's)."""
    return {f"{name}{w}": window_start(day, w) for w in WINDOWS}


def clock_params(settings: SegmentationSettings, now: datetime, scope: Scope = Scope()) -> dict[str, Any]:
    """Every time-dependent value the statements bind."""
    params: dict[str, Any] = window_starts(now.date())
    params |= {
        "now": now,
        "cid": scope.customer_id,
        "dormant_cutoff": now - timedelta(days=settings.dormant_days),
        "new_cutoff": now - timedelta(days=settings.new_customer_days),
    }
    return params


def _moved(since: dict, before: dict):
    """Customers with a daily row that left a window between the previous recompute's day and this
    one's: for each window, rows dated after the old start and up to the new one (the day index)."""
    edge = daily_activity.alias("edge")
    return union(*(select(edge.c.customer_id).where(edge.c.day > before[w], edge.c.day <= since[w]) for w in WINDOWS))


@lru_cache(maxsize=8)
def _window_statements(scope: str):
    """One grouped pass over the scope's daily rows inside the longest window (a FILTERed sum per
    shorter window), writing only rows whose values change; then the customers left with no row in
    the window are zeroed. The scope is one customer ("one", an event: a probe by key), everyone
    ("all": the repair pass), or the customers some of whose rows left a window since the previous
    recompute ("moved", the daily job: nobody else's windows can have moved, because every other
    change to a customer's daily rows refreshed that customer's windows in the same transaction).
    The daily job zeroes starting from the few rows that just left the longest window (the day
    index), because a daily row is only deleted after the windows that counted it were refreshed
    (prune runs after the window step; a reversal that empties a day refreshes its customer); the
    repair pass looks at everyone with window values, rows or not."""
    d = daily_activity.c
    since = {w: bindparam(f"d{w}", type_=Date()) for w in WINDOWS}
    before = {w: bindparam(f"p{w}", type_=Date()) for w in WINDOWS}
    longest = since[LONGEST_WINDOW_DAYS]
    # the WHERE below keeps only rows inside the longest window: its sums need no FILTER
    cols: dict[str, ColumnElement[Any]] = {
        "c365": func.sum(d.txn_count),
        "a365": func.sum(d.amount_fen),
        "dig": func.sum(d.digital_count),
    }
    for w in WINDOWS[:-1]:
        cols[f"c{w}"] = func.coalesce(func.sum(d.txn_count).filter(d.day > since[w]), 0)
        cols[f"a{w}"] = func.coalesce(func.sum(d.amount_fen).filter(d.day > since[w]), 0)
    who = {"one": d.customer_id == bindparam("cid"), "all": true(), "moved": d.customer_id.in_(_moved(since, before))}[
        scope
    ]
    agg = (
        select(d.customer_id, *(v.label(k) for k, v in cols.items()))
        .where(d.day > longest, who)
        .group_by(d.customer_id)
        .subquery("agg")
    )
    share = case((agg.c.c365 > 0, (agg.c.dig * 100) // agg.c.c365), else_=None)  # whole percent, floored
    new: dict[str, ColumnElement[Any]] = {f"txn_count_{w}": agg.c[f"c{w}"] for w in WINDOWS}
    new |= {f"txn_amount_fen_{w}": agg.c[f"a{w}"] for w in WINDOWS}
    new["digital_share_pct"] = share
    changed = or_(*(cf.c[k].is_distinct_from(v) for k, v in new.items()))
    busy = update(cf).where(cf.c.customer_id == agg.c.customer_id, changed).values(**new)
    left = {
        "one": cf.c.customer_id == bindparam("cid"),
        "all": true(),
        "moved": cf.c.customer_id.in_(select(d.customer_id).where(d.day <= longest)),
    }[scope]
    quiet = ~exists(select(1).where(d.customer_id == cf.c.customer_id, d.day > longest))
    zero = {f"txn_count_{w}": 0 for w in WINDOWS} | {f"txn_amount_fen_{w}": 0 for w in WINDOWS}
    idle = (
        update(cf)
        .where(left, or_(cf.c.txn_count_365 != 0, cf.c.digital_share_pct.is_not(None)), quiet)
        .values(**zero, digital_share_pct=None)
    )
    return busy, idle


def refresh_windows(s: Session, *, now: datetime, scope: Scope = Scope(), moved_since: date | None = None) -> None:
    """Recomputes the 30/90/365-day counts, amounts and digital share from the daily aggregate: of
    the scope's customer, or of everyone; with `moved_since` (the day of the previous recompute, not
    after today's), only of the customers whose rows have left a window since that day."""
    today = now.date()
    params: dict[str, Any] = window_starts(today) | {"cid": scope.customer_id}
    which = "one" if scope.one else "all"
    if moved_since is not None and not scope.one:
        if moved_since > today:
            raise ValueError("moved_since is after today")
        params |= window_starts(moved_since, "p")
        which = "moved"
    for stmt in _window_statements(which):
        s.execute(stmt, params)


def class_expressions(settings: SegmentationSettings) -> dict[str, Any]:
    """The class of every built-in scheme as a SQL expression over one feature row (null until the
    customer's registration has arrived); binds `dormant_cutoff` and `new_cutoff` (see clock_params)."""
    asset_by_type = []
    for t in CUSTOMER_TYPES:
        major, mid_high, ordinary = settings.asset_thresholds(t)
        asset_by_type.append(
            (
                cf.c.type == t,
                case(
                    (cf.c.aum_fen >= major, "major"),
                    (cf.c.aum_fen >= mid_high, "mid_high"),
                    (cf.c.aum_fen >= ordinary, "ordinary"),
                    else_="micro",
                ),
            )
        )
    active_min = case(*((cf.c.type == t, settings.active_min_txn_90(t)) for t in CUSTOMER_TYPES), else_=None)
    dormant_cutoff = bindparam("dormant_cutoff", type_=UTCDateTime())
    new_cutoff = bindparam("new_cutoff", type_=UTCDateTime())
    quiet = or_(cf.c.last_txn_at.is_(None), cf.c.last_txn_at < dormant_cutoff)
    not_new = or_(cf.c.registered_at.is_(None), cf.c.registered_at < new_cutoff)
    behaviour = case(
        (cf.c.type.is_(None), None),
        (cf.c.txn_count_90 >= active_min, "active"),
        (and_(quiet, not_new), "dormant"),
        else_="potential",
    )
    return {
        "customer_type": cf.c.type,
        "region": case((cf.c.type.is_(None), None), else_=cf.c.region_type),
        "asset_size": case(*asset_by_type, else_=None),
        "behaviour": behaviour,
    }


@lru_cache(maxsize=8)
def _class_statements(settings: SegmentationSettings, one: bool):
    exprs = class_expressions(settings)
    stamp = bindparam("now", type_=UTCDateTime())
    # One scan of the features finds every customer with any class to move (materialised: the four
    # history selects below read it, not the table).
    changed = or_(*(expr.is_distinct_from(cf.c[f"class_{k}"]) for k, expr in exprs.items()))
    found = select(
        cf.c.customer_id,
        *(cf.c[f"class_{k}"].label(f"old_{k}") for k in exprs),
        *(expr.label(f"new_{k}") for k, expr in exprs.items()),
    ).where(_on(cf.c.customer_id, one), changed)
    moving = found.cte("moving").prefix_with("MATERIALIZED")
    moves = [
        select(moving.c.customer_id, literal(k), moving.c[f"old_{k}"], moving.c[f"new_{k}"], stamp).where(
            moving.c[f"new_{k}"].is_distinct_from(moving.c[f"old_{k}"])
        )
        for k in exprs
    ]
    history = insert(membership_change).from_select(HISTORY_COLS, union_all(*moves))
    # Only the customers just written to the history move: an index range, not another full scan.
    moved = select(membership_change.c.customer_id).where(membership_change.c.id > bindparam("last_id"))
    apply = update(cf).where(cf.c.customer_id.in_(moved)).values({f"class_{k}": expr for k, expr in exprs.items()})
    return history, apply


def _uuid_sql(dialect: str):
    if dialect == "postgresql":
        return type_coerce(func.gen_random_uuid(), String)

    def hexes(n: int):
        return type_coerce(func.lower(func.hex(func.randomblob(n))), String)

    variant = type_coerce(func.substr("89ab", 1 + func.abs(func.random()) % 4, 1), String)
    return (
        hexes(4)
        + "-"
        + hexes(2)
        + "-4"
        + func.substr(hexes(2), 2)
        + "-"
        + variant
        + func.substr(hexes(2), 2)
        + "-"
        + hexes(6)
    )


@lru_cache(maxsize=4)
def _outbox_statement(dialect: str):
    mc = membership_change.c
    json_object = func.json_build_object if dialect == "postgresql" else func.json_object
    data = json_object(
        "scheme",
        mc.scheme,
        "from_class",
        mc.from_class,
        "to_class",
        mc.to_class,
        "changed_at",
        bindparam("stamp", type_=String()),
    )
    rows = (
        select(_uuid_sql(dialect), literal("segment.changed"), mc.changed_at, mc.customer_id, data)
        .where(mc.id > bindparam("last_id"))
        .order_by(mc.id)
    )
    return insert(outbox).from_select(["event_id", "type", "occurred_at", "subject_id", "data"], rows)


def emit_changes_since(s: Session, last_id: int, changed_at: datetime) -> None:
    """segment.changed for every history row written after `last_id`, in one INSERT ... SELECT."""
    dialect = _dialect(s)
    serialise_outbox_writes(s, outbox)
    stamp = changed_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    s.execute(_outbox_statement(dialect), {"last_id": last_id, "stamp": stamp})


_LAST_ID = select(func.coalesce(func.max(membership_change.c.id), 0))
_SINCE = select(func.count()).select_from(membership_change).where(membership_change.c.id > bindparam("last_id"))


def last_change_id(s: Session) -> int:
    return s.execute(_LAST_ID).scalar_one()


def changes_since(s: Session, last_id: int) -> int:
    # rowcount of INSERT ... SELECT is not reliable on every driver; the history rows are.
    return s.execute(_SINCE, {"last_id": last_id}).scalar_one()


def classify(s: Session, *, settings: SegmentationSettings, now: datetime, scope: Scope = Scope()) -> int:
    """Moves customers whose built-in class changed; returns how many (customer, scheme) changes."""
    lock_classification(s)
    history, apply = _class_statements(settings, scope.one)
    params = clock_params(settings, now, scope)
    last = last_change_id(s)
    s.execute(history, params)
    n = changes_since(s, last)
    if not n:
        return 0
    emit_changes_since(s, last, now)
    s.execute(apply, params | {"last_id": last})
    return n


def remove_from_all(s: Session, *, customer_id: str) -> None:
    """An erased customer: features, holdings, activity, memberships and their history go."""
    s.execute(delete(segment_member).where(segment_member.c.customer_id == customer_id))
    s.execute(delete(customer_holding).where(customer_holding.c.customer_id == customer_id))
    s.execute(delete(membership_change).where(membership_change.c.customer_id == customer_id))
    forget_customer(s, customer_id=customer_id)
    s.execute(delete(cf).where(cf.c.customer_id == customer_id))


__all__ = ["SCHEMES", "Scope", "classify", "refresh_windows"]
