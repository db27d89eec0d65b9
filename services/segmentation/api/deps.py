"""Segmentation's own dependencies (the service context, the customer query parameter) and the member
presenters its routers share; the kit's aliases (services.common.access, services.common.deps) cover the rest."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy import Row

from services.common.money import fen_to_str
from services.segmentation.models import SCHEMES
from services.segmentation.schemas import (
    FeaturesRead,
    MemberPage,
    MemberRead,
    MembershipRead,
    ProductRead,
    RecommendationRead,
    SegmentMembership,
)
from services.segmentation.service.catalogue import Recommendation
from services.segmentation.service.context import Context


async def _ctx(request: Request) -> Context:
    return request.app.state.ctx


Ctx = Annotated[Context, Depends(_ctx)]
CustomerId = Annotated[uuid.UUID, Query(description="the customer's id")]


def present_member(r) -> MemberRead:
    return MemberRead(
        customer_id=r.customer_id,
        customer_no=r.customer_no,
        branch_code=r.branch_code,
        customer_type=r.class_customer_type,
        region=r.class_region,
        asset_size=r.class_asset_size,
        behaviour=r.class_behaviour,
        aum=fen_to_str(r.aum_fen),
    )


def member_page(page) -> MemberPage:
    rows, next_cursor = page
    return MemberPage(items=[present_member(r) for r in rows], next_cursor=next_cursor)


def present_features(f: Row, now: datetime) -> FeaturesRead:
    m = f._mapping
    tenure = (now - f.registered_at).days if f.registered_at else None
    money = {f"txn_amount_{w}": fen_to_str(m[f"txn_amount_fen_{w}"]) for w in (30, 90, 365)}
    plain = {k: m[k] for k in FeaturesRead.model_fields if k in m}
    return FeaturesRead(**plain, **money, aum=fen_to_str(f.aum_fen), tenure_days=tenure)


def present_membership(f: Row, segments: Sequence[Row], now: datetime) -> MembershipRead:
    return MembershipRead(
        customer_id=f.customer_id,
        classes={s: f._mapping[f"class_{s}"] for s in SCHEMES},
        segments=[SegmentMembership(segment_id=r.id, name=r.name, since=r.since) for r in segments],
        features=present_features(f, now),
    )


def present_recommendations(recs: list[Recommendation]) -> list[RecommendationRead]:
    return [
        RecommendationRead(rank=i + 1, product=ProductRead.model_validate(r.product), reason=r.reason)
        for i, r in enumerate(recs)
    ]
