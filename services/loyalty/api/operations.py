"""Activity bonuses, the expiry job and the ledger check."""

from fastapi import APIRouter, Request

from services.common.access import (
    StaffOrSystemLoyaltyRead,
    StaffOrSystemPointsAward,
    Supervisor,
    SupervisorOrSystemJobsRun,
    SystemOrAdminJobsRun,
)
from services.common.branch_scope import Reach, ensure_customer_in_reach
from services.common.deps import Db, IdemKey, replay
from services.common.errors import problem_responses
from services.common.idempotency import StoredResponse, idempotency_request
from services.loyalty.api.deps import Pol, entry_body, present_entry
from services.loyalty.schemas.accounts import EntryRead
from services.loyalty.schemas.operations import (
    ActivityAwardCreate,
    ActivityCreate,
    ActivityList,
    ActivityRead,
    ExpiryRunRead,
    LedgerCheckRead,
    MismatchRead,
)
from services.loyalty.service import accounts, activities, expiry

router = APIRouter(prefix="/v1/loyalty", tags=["operations"])


@router.post(
    "/activities",
    status_code=201,
    response_model=ActivityRead,
    summary="Configure an activity bonus",
    responses=problem_responses(401, 403, 409, 422),
)
def create_activity(body: ActivityCreate, _p: Supervisor, db: Db, policy: Pol) -> ActivityRead:
    return ActivityRead.model_validate(activities.create_activity(db, **body.model_dump(), policy=policy))


@router.get(
    "/activities", response_model=ActivityList, summary="Activity bonuses", responses=problem_responses(401, 403, 422)
)
def list_activities(_p: StaffOrSystemLoyaltyRead, db: Db) -> ActivityList:
    return ActivityList(items=[ActivityRead.model_validate(a) for a in activities.list_activities(db)])


@router.post(
    "/activity-awards",
    status_code=201,
    response_model=EntryRead,
    summary="Award an activity bonus, once per instance (Idempotency-Key honoured)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def award_activity(
    body: ActivityAwardCreate,
    principal: StaffOrSystemPointsAward,
    db: Db,
    policy: Pol,
    request: Request,
    idempotency_key: IdemKey = None,
):
    ensure_customer_in_reach(request, principal, body.customer_id)
    idem = idempotency_request(
        idempotency_key, caller=principal.sub, operation="award_activity", body=body.model_dump(mode="json")
    )
    result = activities.award_activity(
        db,
        customer_id=body.customer_id,
        code=body.activity_code,
        instance=body.instance,
        actor=principal,
        idem=idem,
        present=entry_body(policy),
        policy=policy,
    )
    return replay(result) if isinstance(result, StoredResponse) else present_entry(result, policy)


@router.post(
    "/expiry-runs",
    response_model=ExpiryRunRead,
    summary="Expire every point past its expiry (idempotent)",
    description="Bank-wide, as the scheduled job: head office (admin) and system only, since a branch's "
    "supervisor acts only within their subtree.",
    responses=problem_responses(401, 403, 422),
)
def run_expiry(_p: SystemOrAdminJobsRun, db: Db, policy: Pol) -> ExpiryRunRead:
    as_of = policy.now()
    result = expiry.run_expiry(db, policy=policy)
    return ExpiryRunRead(as_of=as_of, accounts=result.accounts, points=result.points)


@router.post(
    "/ledger-checks",
    response_model=LedgerCheckRead,
    summary="Compare every stored balance with its ledger and lots (sets loyalty_ledger_mismatched_accounts)",
    description="A supervisor checks the accounts of the customers of their branch's subtree only; admin and "
    "system check every account, and only a bank-wide check sets the gauge.",
    responses=problem_responses(401, 403, 422),
)
def check_ledger(_p: SupervisorOrSystemJobsRun, db: Db, request: Request, reach: Reach) -> LedgerCheckRead:
    checked, mismatches = accounts.check_balances(db, reach)
    if reach is None:  # a subtree's count would hide (or clear) the rest of the bank's mismatches
        request.app.state.loyalty_metrics.ledger_mismatches.set(len(mismatches))
    return LedgerCheckRead(accounts_checked=checked, mismatches=[MismatchRead.model_validate(m) for m in mismatches])
