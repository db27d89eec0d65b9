"""GET /v1/personal-data/{customer_id}: feedback's part of a person's data export (gateway only)."""

import uuid
from datetime import datetime
from typing import Any

from services.common.auth import Principal
from services.common.personal_data import personal_data_router
from services.feedback.schemas.personal_data import FeedbackPersonalData
from services.feedback.service import personal_data as svc


def _export(state: Any, customer_id: uuid.UUID, actor: Principal, now: datetime) -> FeedbackPersonalData:
    return svc.export_customer(state.db, customer_id=customer_id, actor=actor, ctx=state.complaints, now=now)


router = personal_data_router("feedback", FeedbackPersonalData, _export)
