"""Dual control in loyalty (points adjustments, retiring a reward): the checkers' queue, and approval
or rejection by a supervisor or admin other than the maker (the kit's approvals routes)."""

from datetime import datetime

from services.common.approvals import Approval, effective_status, masked
from services.common.approvals_api import approvals_router
from services.loyalty.schemas.approvals import ApprovalPage, ApprovalRead


def present_approval(row: Approval, now: datetime) -> ApprovalRead:
    return ApprovalRead.model_validate(
        {
            **masked(row),
            "status": effective_status(row, now),
            "entry_id": (row["result"] or {}).get("entry_id"),
            "queued": (row["result"] or {}).get("queued"),
        }
    )


router = approvals_router(
    "/v1/loyalty/approvals",
    ApprovalRead,
    ApprovalPage,
    approve_says="points.adjust: the adjustment is posted in the maker's name; 409 `points_insufficient` when the "
    "balance no longer covers a debit. reward.retire: the change is made; 412 when the reward changed since. "
    "campaign.launch: the campaign is launched (its outreach queued); 409 `campaign_not_draft` or "
    "`campaign_window_closed`. Either "
    "way a refusal leaves the request pending.",
    present_row=present_approval,
)
