"""Segmentation's own dependencies (the service context, the customer query parameter) and the member
presenters its routers share; the kit's aliases (services.common.access, services.common.deps) cover the rest."""

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request

from services.common.money import fen_to_str
from services.segmentation.schemas import (
    MemberPage,
    MemberRead,
)
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
