"""The class catalogue (every class a customer can be in), the needs profile of each class,
recommendations with suitability, and the analysis views (class counts and AUM, region x asset-size,
migration between dates, dormant by branch). The product catalogue is products.py."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Row, and_, func, literal, select, union_all
from sqlalchemy.orm import aliased

from services.common.branch_scope import in_reach
from services.common.db import Database, UTCDateTime
from services.common.errors import InvalidInput
from services.common.money import fen_to_str
from services.segmentation.models import (
    CLASSES,
    RULE_CLASS,
    SCHEMES,
    customer_feature,
    customer_holding,
    membership_change,
    product,
    segment,
)
from services.segmentation.service.reasons import Why, reason

cf = customer_feature

CLASS_LABELS = {
    "major": "major (大客户)",
    "mid_high": "mid-to-high (中高端)",
    "ordinary": "ordinary (普通)",
    "micro": "micro and small (小微)",
    "individual": "individual",
    "enterprise": "enterprise",
    "interbank": "interbank",
    "urban": "urban",
    "rural": "rural",
    "peri_urban": "peri-urban",
    "active": "active",
    "potential": "potential",
    "dormant": "dormant",
}
# The documented needs profile: what a class of customer mainly needs (README lists it).
NEEDS: dict[str, tuple[str, ...]] = {
    "asset_size:major": ("personalised_service", "asset_allocation"),
    "asset_size:mid_high": ("returns", "wealth_management"),
    "asset_size:ordinary": ("saving", "simple_investment"),
    "asset_size:micro": ("fast_financing",),
    "customer_type:enterprise": ("fast_financing", "settlement"),
    "customer_type:interbank": ("liquidity",),
    "region:rural": ("convenient_access",),
    "behaviour:potential": ("growth",),
    "behaviour:dormant": ("reactivation",),
}
NEEDS_TAGS = tuple(sorted({t for tags in NEEDS.values() for t in tags} | {"protection", "everyday_payments"}))
ALL_CLASSES = tuple(f"{s}:{c}" for s in SCHEMES for c in CLASSES[s])


def class_catalogue(db: Database) -> list[tuple[str, str, str]]:
    """(scheme, class, label) of every class a customer can be in, as segment.changed names them: each
    built-in scheme's classes in order, then every rule segment's one class (scheme rule:<segment id>,
    class member, labelled with the segment's name) by name. Rule segments are never deleted."""
    fixed = [(s, c, CLASS_LABELS[c]) for s in SCHEMES for c in CLASSES[s]]
    with db.read() as s:
        rules = s.execute(select(segment.c.id, segment.c.name).order_by(segment.c.name, segment.c.id)).all()
    return fixed + [(f"rule:{r.id}", RULE_CLASS, r.name) for r in rules]


def customer_classes(features: Row) -> list[str]:
    return [f"{s}:{features._mapping[f'class_{s}']}" for s in SCHEMES if features._mapping[f"class_{s}"]]


def suitable(risk_level: str | None, risk_expires_at: datetime | None, product_risk: str | None, now: datetime) -> bool:
    """A Cn customer may be offered R1..Rn, only while the assessment is valid; a product without a
    risk level needs no assessment."""
    if product_risk is None:
        return True
    if risk_level is None or risk_expires_at is None or risk_expires_at <= now:
        return False
    return int(product_risk[1]) <= int(risk_level[1])


@dataclass(frozen=True)
class Recommendation:
    product: Row
    score: int
    reason: str


# What each purpose a customer states calls for, in the catalogue's needs tags.
PURPOSE_NEEDS: dict[str, tuple[str, ...]] = {
    "saving": ("saving", "simple_investment"),
    "wealth_growth": ("returns", "wealth_management", "asset_allocation"),
    "retirement": ("asset_allocation", "saving", "protection"),
    "education": ("saving", "simple_investment"),
    "housing": ("saving", "fast_financing"),
    "business": ("fast_financing", "settlement"),
    "protection": ("protection",),
    "everyday": ("everyday_payments", "convenient_access"),
}


def held_products(db: Database, customer_id: str) -> set[str]:
    """The product codes the customer holds now (profile's holding.changed)."""
    with db.read() as s:
        rows = s.execute(
            select(customer_holding.c.product_code).where(
                customer_holding.c.customer_id == customer_id, customer_holding.c.status == "held"
            )
        ).scalars()
        return set(rows)


def recommend(
    db: Database, *, customer_id: str, now: datetime, features: Row, lang: str = "en"
) -> list[Recommendation]:
    """Active products that fit the customer's classes, needs and stated goal and pass suitability, never
    one the customer holds, best first; each with its reason in `lang` (en or zh)."""
    if features.status != "active" or features.type is None:
        return []
    classes = customer_classes(features)
    held = held_products(db, customer_id)
    purpose = features.need_purpose
    with db.read() as s:
        products = s.execute(select(product).where(product.c.is_active.is_(True)).order_by(product.c.code)).all()
    out = []
    for p in products:
        if p.code in held:
            continue
        targets = list(p.target_classes or [])
        matched = [c for c in targets if c in classes]
        if targets and not matched:
            continue
        if not suitable(features.risk_level, features.risk_expires_at, p.risk_level, now):
            continue
        need_of = next((c for c in classes if p.needs_tag in NEEDS.get(c, ())), None)
        serves = purpose if purpose is not None and p.needs_tag in PURPOSE_NEEDS.get(purpose, ()) else None
        # The customer's own goal outranks what their classes suggest: 8 against at most 3 + 2 per target.
        score = 8 * (serves is not None) + 3 * (need_of is not None) + 2 * len(matched)
        if features.need_liquidity == "high" and p.category == "wealth":
            score -= 3  # money that may be needed soon is not tied up first
        out.append(Recommendation(p, score, reason(p, Why(need_of, matched, serves), features, lang)))
    out.sort(key=lambda r: (-r.score, r.product.code))
    return out


# --- analysis -----------------------------------------------------------------------------------


def class_summary(db: Database, reach: set[str] | None = None) -> list[tuple[str, str, int, str]]:
    """(scheme, class, customers, total AUM) for every class of every scheme, zeros included, over the
    customers of the branches in `reach` (None: every branch)."""
    parts = [
        select(
            literal(s).label("scheme"),
            cf.c[f"class_{s}"].label("cls"),
            func.count().label("n"),
            func.coalesce(func.sum(cf.c.aum_fen), 0).label("aum"),
        )
        .where(cf.c[f"class_{s}"].is_not(None), in_reach(cf.c.branch_code, reach))
        .group_by(cf.c[f"class_{s}"])
        for s in SCHEMES
    ]
    with db.read() as s:
        found = {(r.scheme, r.cls): (r.n, int(r.aum)) for r in s.execute(union_all(*parts))}
    return [
        (s, c, found.get((s, c), (0, 0))[0], fen_to_str(found.get((s, c), (0, 0))[1]))
        for s in SCHEMES
        for c in CLASSES[s]
    ]


def cross_tab(db: Database, reach: set[str] | None = None) -> list[tuple[str, str, int, str]]:
    """(region, asset size, customers, total AUM), every cell, over the branches in `reach`."""
    stmt = (
        select(cf.c.class_region, cf.c.class_asset_size, func.count(), func.coalesce(func.sum(cf.c.aum_fen), 0))
        .where(cf.c.class_region.is_not(None), in_reach(cf.c.branch_code, reach))
        .group_by(cf.c.class_region, cf.c.class_asset_size)
    )
    with db.read() as s:
        found = {(r[0], r[1]): (r[2], int(r[3])) for r in s.execute(stmt)}
    return [
        (r, a, found.get((r, a), (0, 0))[0], fen_to_str(found.get((r, a), (0, 0))[1]))
        for r in CLASSES["region"]
        for a in CLASSES["asset_size"]
    ]


def _class_at(scheme: str, cutoff: datetime):
    """Each customer's class in `scheme` at `cutoff`: the target of the last change before it."""
    mc = membership_change.c
    ranked = (
        select(
            mc.customer_id,
            mc.to_class,
            func.row_number().over(partition_by=mc.customer_id, order_by=mc.id.desc()).label("rn"),
        )
        .where(mc.scheme == scheme, mc.changed_at < literal(cutoff, UTCDateTime()))
        .subquery()
    )
    return select(ranked.c.customer_id, ranked.c.to_class).where(ranked.c.rn == 1).subquery()


def _end_of(day: date) -> datetime:
    if day == date.max:
        return datetime.max.replace(tzinfo=UTC)
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def migration_matrix(
    db: Database, *, scheme: str, from_date: date, to_date: date, reach: set[str] | None = None
) -> list[tuple[Any, Any, int]]:
    """(class at the end of from_date, class at the end of to_date, customers), for customers whose
    class differs; null means not yet classified (or not a member). Only customers whose branch now
    (their feature row's) is in `reach` count (None: every branch)."""
    if to_date < from_date:
        raise InvalidInput([{"loc": ["query", "to_date"], "msg": "must not be before from_date", "type": "range"}])
    before, after = _class_at(scheme, _end_of(from_date)), _class_at(scheme, _end_of(to_date))
    a, b = aliased(before), aliased(after)
    joined = b.outerjoin(a, a.c.customer_id == b.c.customer_id)
    if reach is not None:
        joined = joined.join(cf, cf.c.customer_id == b.c.customer_id)
    stmt = (
        select(a.c.to_class, b.c.to_class, func.count())
        .select_from(joined)
        .where(a.c.to_class.is_distinct_from(b.c.to_class), in_reach(cf.c.branch_code, reach))
        .group_by(a.c.to_class, b.c.to_class)
        .order_by(func.count().desc())
    )
    with db.read() as s:
        return [(r[0], r[1], r[2]) for r in s.execute(stmt)]


def dormant_by_branch(db: Database, reach: set[str] | None = None) -> list[tuple[str | None, int, str]]:
    """(branch, dormant customers, their AUM) per branch in `reach` (None: every branch)."""
    stmt = (
        select(cf.c.branch_code, func.count(), func.coalesce(func.sum(cf.c.aum_fen), 0))
        .where(and_(cf.c.class_behaviour == "dormant"), in_reach(cf.c.branch_code, reach))
        .group_by(cf.c.branch_code)
        .order_by(func.count().desc(), cf.c.branch_code)
    )
    with db.read() as s:
        return [(r[0], r[1], fen_to_str(int(r[2]))) for r in s.execute(stmt)]
