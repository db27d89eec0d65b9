"""Campaigns (staff create and dry-run them, a supervisor approves the launch), their outreach records,
receipts from the app and staff, and the SMS gateway's delivery reports."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.common.access import CustomerOrStaff, Staff, SystemOrAdminDeliveriesReport
from services.common.approvals_api import Book
from services.common.auth import ensure_own_customer
from services.common.branch_scope import Reach
from services.common.deps import Cursor, Db, Limit, Now
from services.common.errors import NotFound, problem_responses
from services.loyalty.api.approvals import present_approval
from services.loyalty.api.deps import Classes, Settings
from services.loyalty.schemas.approvals import ApprovalRead
from services.loyalty.schemas.campaigns import (
    CampaignCreate,
    CampaignPage,
    CampaignRead,
    CampaignStatus,
    DryRun,
    FunnelStep,
    OutreachPage,
    OutreachRead,
    OutreachState,
    Receipt,
    SmsReport,
)
from services.loyalty.service import campaigns, outreach

router = APIRouter(prefix="/v1/loyalty", tags=["campaigns"])
CampaignId = Annotated[uuid.UUID, Path(description="campaign id")]
OutreachId = Annotated[int, Path(ge=1, le=2**62, description="outreach record id")]
SCOPED = "Staff and supervisors see their branch subtree's campaigns (another's is 404); admin sees all."


@router.post(
    "/campaigns",
    status_code=201,
    response_model=CampaignRead,
    summary="Create a campaign (a draft; its launch waits for a supervisor)",
    description="The template may use only the documented variables (an unknown one is a 422 naming `template`); "
    "the audience must be a class of segmentation's catalogue (a rule segment is looked up there: 503 when it "
    "cannot answer). The campaign belongs to the creator's branch and reaches that subtree's customers.",
    responses=problem_responses(401, 403, 422, 503),
)
def create_campaign(
    body: CampaignCreate, principal: Staff, db: Db, now: Now, classes: Classes, settings: Settings, response: Response
) -> CampaignRead:
    fields = body.model_dump()
    fields["attribution_days"] = body.attribution_days or settings.attribution_days
    fields["quiet_start"] = body.quiet_start or settings.quiet_hours_start
    fields["quiet_end"] = body.quiet_end or settings.quiet_hours_end
    campaign = campaigns.create_campaign(db, fields=fields, classes=classes, actor=principal, now=now)
    response.headers["Location"] = f"/v1/loyalty/campaigns/{campaign.id}"
    return CampaignRead.model_validate(campaign)


@router.get(
    "/campaigns",
    response_model=CampaignPage,
    summary="Campaigns, newest first",
    description=SCOPED,
    responses=problem_responses(401, 403, 422),
)
def list_campaigns(
    _p: Staff,
    db: Db,
    reach: Reach,
    status: CampaignStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CampaignPage:
    rows, next_cursor = campaigns.list_campaigns(db, reach=reach, status=status, limit=limit, cursor=cursor)
    return CampaignPage(items=[CampaignRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/campaigns/{campaign_id}",
    response_model=CampaignRead,
    summary="A campaign",
    description=SCOPED,
    responses=problem_responses(401, 403, 404, 422),
)
def read_campaign(campaign_id: CampaignId, _p: Staff, db: Db, reach: Reach) -> CampaignRead:
    return CampaignRead.model_validate(campaigns.read_campaign(db, campaign_id=campaign_id, reach=reach))


@router.post(
    "/campaigns/{campaign_id}/dry-run",
    response_model=DryRun,
    summary="How many customers the campaign would reach now: the count left after each filter",
    description="audience (the class's members in the campaign's branch subtree), do_not_contact, consent "
    "(marketing consent on the channel; service messages are exempt), contactability (a contact point for the "
    "channel), frequency_cap (marketing: fewer than LOYALTY_MARKETING_CAP contacts in LOYALTY_MARKETING_CAP_DAYS). "
    "Nothing is written.",
    responses=problem_responses(401, 403, 404, 422),
)
def dry_run(campaign_id: CampaignId, _p: Staff, db: Db, reach: Reach, now: Now, settings: Settings) -> DryRun:
    counts = campaigns.dry_run(
        db,
        campaign_id=campaign_id,
        reach=reach,
        now=now,
        cap=settings.marketing_cap,
        cap_days=settings.marketing_cap_days,
    )
    return DryRun(campaign_id=campaign_id, steps=[FunnelStep(filter=k, left=v) for k, v in counts.items()])  # type: ignore[arg-type]


@router.post(
    "/campaigns/{campaign_id}/launch",
    status_code=202,
    response_model=ApprovalRead,
    summary="Ask to launch the campaign: a pending approval request a supervisor other than the maker approves",
    description="Approval (`POST /v1/loyalty/approvals/{id}/approve`) launches it in the same transaction: the "
    "audience at that moment, filtered as the dry run says, one outreach record per customer left. 409 "
    "`campaign_not_draft` (launched already), `campaign_window_closed` (its sending window passed), "
    "`approval_pending` (a request waits).",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def launch_campaign(
    campaign_id: CampaignId, principal: Staff, db: Db, reach: Reach, now: Now, book: Book
) -> ApprovalRead:
    row = campaigns.request_launch(db, book, campaign_id=campaign_id, reach=reach, actor=principal, now=now)
    return present_approval(row, now)


@router.get(
    "/campaigns/{campaign_id}/outreach",
    response_model=OutreachPage,
    summary="The campaign's outreach records, newest first",
    description=SCOPED,
    responses=problem_responses(401, 403, 404, 422),
)
def list_campaign_outreach(
    campaign_id: CampaignId,
    _p: Staff,
    db: Db,
    reach: Reach,
    state: OutreachState | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> OutreachPage:
    campaigns.read_campaign(db, campaign_id=campaign_id, reach=reach)
    rows, next_cursor = outreach.list_outreach(
        db, campaign_id=campaign_id, state=state, reach=reach, limit=limit, cursor=cursor
    )
    return OutreachPage(items=[OutreachRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/outreach",
    response_model=OutreachPage,
    summary="A customer's outreach records, newest first (a customer: their own)",
    description="Staff see the records of their branch subtree's campaigns.",
    responses=problem_responses(401, 403, 404, 422),
)
def list_customer_outreach(
    principal: CustomerOrStaff,
    db: Db,
    reach: Reach,
    customer_id: Annotated[uuid.UUID, Query()],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> OutreachPage:
    ensure_own_customer(principal, str(customer_id), NotFound(f"No customer {customer_id}", code="customer_not_found"))
    rows, next_cursor = outreach.list_outreach(db, customer_id=customer_id, reach=reach, limit=limit, cursor=cursor)
    return OutreachPage(items=[OutreachRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/outreach/{outreach_id}/receipts",
    response_model=OutreachRead,
    summary="Report a message delivered, opened or answered (the customer's app; staff: a response)",
    description="States only move forward; a repeat or a late receipt changes nothing (200 with the record). "
    "A customer reports on their own records (another's is 404); staff record `responded` (a phone task's call) "
    "on their subtree's records, and may not report delivery or opening (403 `receipt_forbidden`).",
    responses=problem_responses(401, 403, 404, 422),
)
def record_receipt(
    outreach_id: OutreachId, body: Receipt, principal: CustomerOrStaff, db: Db, reach: Reach, now: Now
) -> OutreachRead:
    row = outreach.record_receipt(db, outreach_id=outreach_id, state=body.state, actor=principal, reach=reach, now=now)
    return OutreachRead.model_validate(row)


@router.post(
    "/delivery-receipts/sms",
    status_code=204,
    summary="The SMS gateway's delivery report for a message it was given (system token, deliveries:report)",
    description="`reference` is the one loyalty sent with the message; delivered moves the record to delivered, "
    "undelivered to failed (`sms_undelivered`). A repeat changes nothing; an unknown reference is 404.",
    responses=problem_responses(401, 403, 404, 422),
)
def sms_report(body: SmsReport, _p: SystemOrAdminDeliveriesReport, db: Db, now: Now) -> Response:
    row = outreach.record_sms_report(db, reference=body.reference, delivered=body.status == "delivered", now=now)
    if row is None:
        raise outreach.outreach_not_found(body.reference)
    return Response(status_code=204)
