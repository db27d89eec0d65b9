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
    null,
    or_,
    select,
    text,
    true,
    type_coerce,
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
    daily_activity,
    membership_change,
    outbox,
    segment_member,
)

cf = customer_feature
CUSTOMER_TYPES = ("individual", "enterprise", "interbank")
WINDOWS = (30, 90, 365)
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
    """On PostgreSQL, classification writes take one transaction lock so history ids and outbox
    positions are handed out by one writer at a time (SQLite has one writer anyway)."""
    if _dialect(s) == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CLASSIFY_LOCK})


def window_start(today: date, days: int) -> date:
    """A window of N days holds the days after today - N (today and the N-1 before it)."""
    return today - timedelta(days=days)


def clock_params(settings: SegmentationSettings, now: datetime, scope: Scope = Scope()) -> dict[str, Any]:
    """Every time-dependent value the statements bind."""
    params: dict[str, Any] = {f"d{w}": window_start(now.date(), w) for w in WINDOWS}
    params |= {"now": now, "cid": scope.customer_id,
               "dormant_cutoff": now - timedelta(days=settings.dormant_days),
               "new_cutoff": now - timedelta(days=settings.new_customer_days)}
    return params


@lru_cache(maxsize=8)
def _window_statements(one: bool):
    d = daily_activity.c
    since = {w: bindparam(f"d{w}", type_=Date()) for w in WINDOWS}
    cols = {}
    for w in WINDOWS:
        cols[f"c{w}"] = func.sum(case((d.day > since[w], d.txn_count), else_=0))
        cols[f"a{w}"] = func.sum(case((d.day > since[w], d.amount_fen), else_=0))
    cols["dig"] = func.sum(d.digital_count)
    agg = (
        select(d.customer_id, *(v.label(k) for k, v in cols.items()))
        .where(d.day > since[365], _on(d.customer_id, one))
        .group_by(d.customer_id)
        .subquery("agg")
    )
    share = case((agg.c.c365 > 0, (agg.c.dig * 100) // agg.c.c365), else_=None)  # whole percent, floored
    new = {f"txn_count_{w}": agg.c[f"c{w}"] for w in WINDOWS}
    new |= {f"txn_amount_fen_{w}": agg.c[f"a{w}"] for w in WINDOWS}
    new["digital_share_pct"] = share
    changed = or_(*(cf.c[k].is_distinct_from(v) for k, v in new.items()))
    busy = update(cf).where(cf.c.customer_id == agg.c.customer_id, changed).values(**new)
    quiet = ~exists(select(1).where(d.customer_id == cf.c.customer_id, d.day > since[365]))
    zero = {f"txn_count_{w}": 0 for w in WINDOWS} | {f"txn_amount_fen_{w}": 0 for w in WINDOWS}
    idle = (
        update(cf)
        # the cheap column test first: only rows with something to clear pay for the NOT EXISTS probe
        .where(_on(cf.c.customer_id, one), or_(cf.c.txn_count_365 != 0, cf.c.digital_share_pct.is_not(None)),
               quiet)
        .values(**zero, digital_share_pct=None)
    )
    return busy, idle


def refresh_windows(s: Session, *, now: datetime, scope: Scope = Scope()) -> None:
    """Recomputes the 30/90/365-day counts, amounts and digital share from the daily aggregate."""
    params: dict[str, Any] = {f"d{w}": window_start(now.date(), w) for w in WINDOWS} | {"cid": scope.customer_id}
    for stmt in _window_statements(scope.one):
        s.execute(stmt, params)


def prune_activity(s: Session, *, now: datetime) -> int:
    """Daily rows older than the longest window are no longer needed."""
    cutoff = window_start(now.date(), max(WINDOWS))
    return s.execute(delete(daily_activity).where(daily_activity.c.day <= cutoff)).rowcount


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
    where = _on(cf.c.customer_id, one)
    stamp = bindparam("now", type_=UTCDateTime())
    moves = [
        select(cf.c.customer_id, literal(scheme), cf.c[f"class_{scheme}"], expr, stamp)
        .where(where, expr.is_distinct_from(cf.c[f"class_{scheme}"]))
        for scheme, expr in exprs.items()
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
        hexes(4) + "-" + hexes(2) + "-4" + func.substr(hexes(2), 2) + "-" + variant + func.substr(hexes(2), 2)
        + "-" + hexes(6)
    )


@lru_cache(maxsize=4)
def _outbox_statement(dialect: str):
    mc = membership_change.c
    json_object = func.json_build_object if dialect == "postgresql" else func.json_object
    data = json_object("scheme", mc.scheme, "from_class", mc.from_class, "to_class", mc.to_class,
                       "changed_at", bindparam("stamp", type_=String()))
    rows = select(_uuid_sql(dialect), literal("segment.changed"), mc.changed_at, mc.customer_id, data).where(
        mc.id > bindparam("last_id")
    ).order_by(mc.id)
    return insert(outbox).from_select(["event_id", "type", "occurred_at", "subject_id", "data"], rows)


def _emit_changes_since(s: Session, last_id: int, changed_at: datetime) -> None:
    """segment.changed for every history row written after `last_id`, in one INSERT ... SELECT."""
    dialect = _dialect(s)
    serialise_outbox_writes(s, outbox)
    stamp = changed_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    s.execute(_outbox_statement(dialect), {"last_id": last_id, "stamp": stamp})


_LAST_ID = select(func.coalesce(func.max(membership_change.c.id), 0))
_SINCE = select(func.count()).select_from(membership_change).where(membership_change.c.id > bindparam("last_id"))


def _last_change_id(s: Session) -> int:
    return s.execute(_LAST_ID).scalar_one()


def _changes_since(s: Session, last_id: int) -> int:
    # rowcount of INSERT ... SELECT is not reliable on every driver; the history rows are.
    return s.execute(_SINCE, {"last_id": last_id}).scalar_one()


def classify(s: Session, *, settings: SegmentationSettings, now: datetime, scope: Scope = Scope()) -> int:
    """Moves customers whose built-in class changed; returns how many (customer, scheme) changes."""
    lock_classification(s)
    history, apply = _class_statements(settings, scope.one)
    params = clock_params(settings, now, scope)
    last = _last_change_id(s)
    s.execute(history, params)
    n = _changes_since(s, last)
    if not n:
        return 0
    _emit_changes_since(s, last, now)
    s.execute(apply, params | {"last_id": last})
    return n


def refresh_rule_segment(s: Session, *, segment_id: str, rule, now: datetime, scope: Scope = Scope()) -> int:
    """Brings one rule segment's members in line with its rule; returns entries plus exits."""
    lock_classification(s)
    sm = segment_member.c
    scheme = f"rule:{segment_id}"
    last = _last_change_id(s)
    is_member = exists(select(1).where(sm.segment_id == segment_id, sm.customer_id == cf.c.customer_id))
    entering = and_(scope.on(cf.c.customer_id), cf.c.type.is_not(None), rule, ~is_member)
    still = exists(select(1).where(cf.c.customer_id == sm.customer_id, cf.c.type.is_not(None), rule))
    leaving = and_(sm.segment_id == segment_id, scope.on(sm.customer_id), ~still)
    stamp = literal(now, type_=UTCDateTime())
    moves = union_all(
        select(cf.c.customer_id, literal(scheme), null(), literal("member"), stamp).where(entering),
        select(sm.customer_id, literal(scheme), literal("member"), null(), stamp).where(leaving),
    )
    s.execute(insert(membership_change).from_select(HISTORY_COLS, moves))
    n = _changes_since(s, last)
    if not n:
        return 0
    _emit_changes_since(s, last, now)
    s.execute(delete(segment_member).where(leaving))
    s.execute(
        insert(segment_member).from_select(
            ["segment_id", "customer_id", "since"], select(literal(segment_id), cf.c.customer_id, stamp).where(entering)
        )
    )
    return n


def remove_from_all(s: Session, *, customer_id: str) -> None:
    """An erased customer: features, activity, memberships and their history go."""
    s.execute(delete(segment_member).where(segment_member.c.customer_id == customer_id))
    s.execute(delete(membership_change).where(membership_change.c.customer_id == customer_id))
    s.execute(delete(daily_activity).where(daily_activity.c.customer_id == customer_id))
    s.execute(delete(cf).where(cf.c.customer_id == customer_id))


__all__ = ["SCHEMES", "Scope", "classify", "refresh_rule_segment", "refresh_windows", "prune_activity"]
