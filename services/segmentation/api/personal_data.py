"""GET /v1/personal-data/{customer_id}: segmentation's part of a person's data export (gateway only)."""

import uuid
from datetime import datetime
from typing import Any

from services.common.auth import Principal
from services.common.money import fen_to_str
from services.common.personal_data import personal_data_router
from services.segmentation.api.deps import present_membership, present_recommendations
from services.segmentation.schemas import ChangeRead, DailyActivityRead, SegmentationPersonalData
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
        recommendations=present_recommendations(held.recommendations),
        access_log=held.access,
    )


router = personal_data_router("segmentation", SegmentationPersonalData, _export)
