"""The rewards catalogue (supervisor manages, everyone reads), redemptions and vouchers."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse

from services.common.access import CustomerOrStaff, EveryoneLoyaltyRead, StaffOrSystemVouchersUse, Supervisor
from services.common.approvals_api import Book
from services.common.auth import ensure_own_customer
from services.common.branch_scope import ensure_customer_in_reach
from services.common.deps import Cursor, Db, IdemKey, IfMatch, Limit, replay
from services.common.errors import problem_responses
from services.common.etag import etag_for, expected_version
from services.common.idempotency import StoredResponse, idempotency_request
from services.loyalty.api.approvals import present_approval
from services.loyalty.api.deps import Classes, Pol, segments_checked
from services.loyalty.models import Reward
from services.loyalty.schemas.approvals import ApprovalRead
from services.loyalty.schemas.rewards import (
    RedemptionCreate,
    RedemptionRead,
    RewardCreate,
    RewardPage,
    RewardRead,
    RewardUpdate,
)
from services.loyalty.service import rewards
from services.loyalty.service.ledger import account_not_found
from services.loyalty.service.rewards import RedeemRequest

router = APIRouter(prefix="/v1/loyalty", tags=["rewards"])
RewardId = Annotated[uuid.UUID, "reward id"]
RedemptionId = Annotated[uuid.UUID, "redemption id"]
SEGMENTS_CHECKED = segments_checked("`eligible_segments`")


@router.post(
    "/rewards",
    status_code=201,
    response_model=RewardRead,
    summary="Add a reward (supervisor)",
    description=SEGMENTS_CHECKED,
    responses=problem_responses(401, 403, 409, 422, 503),
)
def create_reward(
    body: RewardCreate, _p: Supervisor, db: Db, policy: Pol, classes: Classes, response: Response
) -> RewardRead:
    fields = body.model_dump(exclude_none=True)
    if body.type == "voucher":
        fields.setdefault("voucher_valid_days", 30)
    reward = rewards.create_reward(db, fields=fields, policy=policy, classes=classes)
    response.headers["ETag"] = etag_for(reward.version)
    response.headers["Location"] = f"/v1/loyalty/rewards/{reward.id}"
    return RewardRead.model_validate(reward)


@router.get(
    "/rewards",
    response_model=RewardPage,
    summary="The catalogue by code (available_only: redeemable now; a customer: always)",
    responses=problem_responses(401, 403, 422),
)
def list_rewards(
    principal: EveryoneLoyaltyRead,
    db: Db,
    policy: Pol,
    available_only: bool = True,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> RewardPage:
    rows, next_cursor = rewards.list_rewards(
        db, available_only=available_only, limit=limit, cursor=cursor, policy=policy, principal=principal
    )
    return RewardPage(items=[RewardRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/rewards/{reward_id}",
    response_model=RewardRead,
    summary="A reward",
    responses=problem_responses(401, 403, 404, 422),
)
def read_reward(
    reward_id: RewardId, principal: EveryoneLoyaltyRead, db: Db, policy: Pol, response: Response
) -> RewardRead:
    reward = rewards.read_reward(db, reward_id=reward_id, principal=principal, now=policy.now())
    response.headers["ETag"] = etag_for(reward.version)
    return RewardRead.model_validate(reward)


@router.patch(
    "/rewards/{reward_id}",
    response_model=RewardRead,
    summary="Change a reward (If-Match required; supervisor); retiring one waits for a second supervisor",
    description=SEGMENTS_CHECKED
    + " A change that retires an active reward (`is_retired: true`) is, under dual control "
    "(`LOYALTY_DUAL_CONTROL_REWARD_RETIRE`, on by default), not made: the answer is 202 with the pending approval "
    "request holding the whole change, made when a supervisor or admin other than the maker approves it "
    "(`POST /v1/loyalty/approvals/{id}/approve`). 409 `approval_pending` while one waits for the reward.",
    responses={
        **problem_responses(401, 403, 404, 409, 412, 422, 428, 503),
        202: {"model": ApprovalRead, "description": "pending"},
    },
)
def update_reward(
    reward_id: RewardId,
    body: RewardUpdate,
    principal: Supervisor,
    db: Db,
    policy: Pol,
    classes: Classes,
    book: Book,
    response: Response,
    if_match: IfMatch = None,
):
    changes = body.model_dump(exclude_unset=True)
    reward = rewards.update_reward(
        db,
        reward_id=reward_id,
        changes=changes,
        expected_version=expected_version(if_match),
        policy=policy,
        classes=classes,
        actor=principal,
        book=book if book.controls(rewards.RETIRE) else None,
    )
    if not isinstance(reward, Reward):
        return JSONResponse(present_approval(reward, policy.now()).model_dump(mode="json"), status_code=202)
    response.headers["ETag"] = etag_for(reward.version)
    return RewardRead.model_validate(reward)


def _redemption_body(redemption) -> dict:
    return RedemptionRead.model_validate(redemption).model_dump(mode="json")


@router.post(
    "/redemptions",
    status_code=201,
    response_model=RedemptionRead,
    summary="Redeem points for a reward (Idempotency-Key honoured; a customer only for itself)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def redeem(
    body: RedemptionCreate,
    principal: CustomerOrStaff,
    db: Db,
    policy: Pol,
    request: Request,
    response: Response,
    idempotency_key: IdemKey = None,
):
    ensure_own_customer(principal, body.customer_id, account_not_found(body.customer_id))
    ensure_customer_in_reach(request, principal, body.customer_id)
    idem = idempotency_request(
        idempotency_key, caller=principal.sub, operation="redeem", body=body.model_dump(mode="json")
    )
    result = rewards.redeem(
        db,
        request=RedeemRequest(body.customer_id, body.reward_id, body.quantity),
        actor=principal,
        idem=idem,
        present=_redemption_body,
        policy=policy,
    )
    if isinstance(result, StoredResponse):
        return replay(result)
    response.headers["Location"] = f"/v1/loyalty/redemptions/{result.id}"
    return RedemptionRead.model_validate(result)


@router.get(
    "/redemptions/{redemption_id}",
    response_model=RedemptionRead,
    summary="A redemption",
    responses=problem_responses(401, 403, 404, 422),
)
def read_redemption(redemption_id: RedemptionId, principal: EveryoneLoyaltyRead, db: Db) -> RedemptionRead:
    redemption = rewards.read_redemption(db, redemption_id=redemption_id)
    ensure_own_customer(principal, redemption.customer_id, rewards.redemption_not_found(redemption_id))
    return RedemptionRead.model_validate(redemption)


@router.post(
    "/redemptions/{redemption_id}/cancel",
    response_model=RedemptionRead,
    summary="Cancel within the reward's window: points and stock come back",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def cancel_redemption(redemption_id: RedemptionId, principal: CustomerOrStaff, db: Db, policy: Pol) -> RedemptionRead:
    return RedemptionRead.model_validate(
        rewards.cancel_redemption(db, redemption_id=redemption_id, actor=principal, policy=policy)
    )


@router.post(
    "/vouchers/{code}/use",
    response_model=RedemptionRead,
    summary="Use a voucher (once)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def use_voucher(
    code: Annotated[str, Path(pattern=r"^V[2-9A-HJ-NP-Z]{12}$")], _p: StaffOrSystemVouchersUse, db: Db, policy: Pol
) -> RedemptionRead:
    return RedemptionRead.model_validate(rewards.use_voucher(db, code=code, policy=policy))
