"""Routes for the risk questionnaire, risk assessments and suitability."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from services.common.access import CustomerOrStaff, EveryoneCustomersRead
from services.common.auth import ensure_own_customer
from services.common.deps import Cursor, Db, IdemKey, Limit, Now, replay
from services.common.errors import problem_responses
from services.common.idempotency import StoredResponse
from services.profile.api.deps import CustomerId, idempotency_for
from services.profile.schemas.risk import (
    ProductRisk,
    QuestionnaireRead,
    RiskAssessmentCreate,
    RiskAssessmentPage,
    RiskAssessmentRead,
    Suitability,
)
from services.profile.service import risk as svc
from services.profile.service.customers import customer_not_found

router = APIRouter(prefix="/v1/customers/{customer_id}", tags=["risk assessment"])


async def _valid_months(request: Request) -> int:
    return request.app.state.settings.risk_assessment_valid_months


ValidMonths = Annotated[int, Depends(_valid_months)]


def _own(principal, customer_id) -> None:
    ensure_own_customer(principal, customer_id, customer_not_found(customer_id))


@router.get(
    "/risk-questionnaire",
    response_model=QuestionnaireRead,
    summary="The questionnaire this customer answers (individuals and organisations differ)",
    responses=problem_responses(401, 403, 404, 422),
)
def read_questionnaire(
    customer_id: CustomerId, principal: EveryoneCustomersRead, db: Db, months: ValidMonths
) -> QuestionnaireRead:
    _own(principal, customer_id)
    return svc.read_questionnaire(db, customer_id=customer_id, valid_months=months)


@router.post(
    "/risk-assessments",
    status_code=201,
    response_model=RiskAssessmentRead,
    summary="Submit answers: score, level C1-C5 and expiry are computed",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def assess_risk(
    customer_id: CustomerId,
    body: RiskAssessmentCreate,
    principal: CustomerOrStaff,
    db: Db,
    now: Now,
    months: ValidMonths,
    response: Response,
    idempotency_key: IdemKey = None,
):
    _own(principal, customer_id)
    idem = idempotency_for(idempotency_key, principal, "assess_risk", customer_id, body)
    a = svc.assess_risk(
        db, customer_id=customer_id, assessment_in=body, actor=principal, valid_months=months, now=now, idem=idem
    )
    if isinstance(a, StoredResponse):
        return replay(a)
    response.headers["Location"] = f"/v1/customers/{customer_id}/risk-assessments/current"
    return a


@router.get(
    "/risk-assessments",
    response_model=RiskAssessmentPage,
    summary="Every assessment, newest first, each with its status now",
    responses=problem_responses(401, 403, 404, 422),
)
def list_assessments(
    customer_id: CustomerId,
    principal: EveryoneCustomersRead,
    db: Db,
    now: Now,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> RiskAssessmentPage:
    _own(principal, customer_id)
    items, next_cursor = svc.list_assessments(db, customer_id=customer_id, now=now, limit=limit, cursor=cursor)
    return RiskAssessmentPage(items=items, next_cursor=next_cursor)


@router.get(
    "/risk-assessments/current",
    response_model=RiskAssessmentRead,
    summary="The current (newest, unexpired) assessment",
    responses=problem_responses(401, 403, 404, 422),
)
def current_assessment(
    customer_id: CustomerId, principal: EveryoneCustomersRead, db: Db, now: Now
) -> RiskAssessmentRead:
    _own(principal, customer_id)
    return svc.current_assessment(db, customer_id=customer_id, now=now)


@router.get(
    "/suitability",
    response_model=Suitability,
    summary="May the customer buy a product of this risk level now, and why",
    responses=problem_responses(401, 403, 404, 422),
)
def check_suitability(
    customer_id: CustomerId,
    principal: EveryoneCustomersRead,
    db: Db,
    now: Now,
    product_risk: Annotated[ProductRisk, Query(description="R1 (lowest) to R5")],
) -> Suitability:
    _own(principal, customer_id)
    return svc.check_suitability(db, customer_id=customer_id, product_risk=product_risk, now=now)
