"""GET /v1/personal-data/{customer_id}: segmentation's part of a person's data export (gateway only)."""

import uuid
from datetime import datetime
from typing import Any

from services.common.auth import Principal
from services.common.money import fen_to_str
from services.common.personal_data import personal_data_router
from services.segmentation.api.deps import present_membership, present_recommendations
from services.segmentation.schemas import (
    ChangeRead,
    DailyActivityRead,
    HeldProduct,
    SegmentationPersonalData,
    StatedNeeds,
)
from services.segmentation.service import personal_data as svc


def _export(state: Any, customer_id: uuid.UUID, actor: Principal, now: datetime) -> SegmentationPersonalData:
    held = svc.export_customer(state.ctx.db, customer_id=customer_id, actor=actor, now=now)
    return SegmentationPersonalData(
        membership=present_membership(held.features, held.segments, now) if held.features is not None else None,
        membership_history=[ChangeRead.model_validate(r) for r in held.history],
        daily_activity=[
            DailyActivityRead(
                day=r.day, txn_count=r.txn_count, amount=fen_to_str(r.amount_fen), digital_count=r.digital_count
            )
            for r in held.activity
        ],
        stated_needs=(
            StatedNeeds(
                purpose=held.features.need_purpose,
                horizon=held.features.need_horizon,
                liquidity_need=held.features.need_liquidity,
            )
            if held.features is not None and held.features.need_purpose is not None
            else None
        ),
        products_held=[HeldProduct.model_validate(r) for r in held.products_held],
        recommendations=present_recommendations(held.recommendations),
        access_log=held.access,
    )


router = personal_data_router("segmentation", SegmentationPersonalData, _export)
