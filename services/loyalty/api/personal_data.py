"""GET /v1/personal-data/{customer_id}: loyalty's part of a person's data export (gateway only)."""

import uuid
from datetime import datetime
from typing import Any

from services.common.auth import Principal
from services.common.personal_data import personal_data_router
from services.loyalty.api.care import present_task
from services.loyalty.api.deps import present_account, present_entry, present_registration
from services.loyalty.api.inbox import present_notification
from services.loyalty.schemas.campaigns import OutreachRead
from services.loyalty.schemas.personal_data import LoyaltyPersonalData, VoucherRead
from services.loyalty.schemas.rewards import RedemptionRead
from services.loyalty.service import personal_data as svc


def _export(state: Any, customer_id: uuid.UUID, actor: Principal, now: datetime) -> LoyaltyPersonalData:
    held = svc.export_customer(state.db, customer_id=customer_id, actor=actor, now=now)
    return LoyaltyPersonalData(
        account=present_account(held.account, state.policy) if held.account else None,
        ledger=[present_entry(e, state.policy, full=True) for e in held.entries],
        redemptions=[RedemptionRead.model_validate(r) for r in held.redemptions],
        vouchers=[
            VoucherRead(
                redemption_id=r.id,
                reward_id=r.reward_id,
                voucher_code=r.voucher_code,
                valid_until=r.voucher_valid_until,
                used_at=r.voucher_used_at,
            )
            for r in held.redemptions
            if r.voucher_code
        ],
        event_registrations=[present_registration(r, e) for r, e in held.registrations],
        notifications=[present_notification(n) for n in held.notifications],
        care_tasks=[present_task(t) for t in held.care_tasks],
        outreach=[OutreachRead.model_validate(o) for o in held.outreach],
        access_log=held.access,
    )


router = personal_data_router("loyalty", LoyaltyPersonalData, _export)
