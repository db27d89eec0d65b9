"""GET /api/v1/customers/{customer_id}/overview: one customer as a manager's screen or the mobile app's
home page needs it, fetched from every service at once within one time budget (gateway.overview_fanout).
What did not arrive in time, or could not be had, is named in `partial`; never a 500, never late."""

import re
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from gateway.overview_fanout import MissingPart, OverviewSegment, caller_headers, fan_out, overview_parts
from services.common.access import EveryoneCustomersRead
from services.common.auth import ensure_own_customer
from services.common.errors import NotFound, problem_responses
from services.common.personal_data import Purpose

OVERVIEW_ROUTE = "/api/v1/customers/{customer_id}/overview"
_OVERVIEW_PATH = re.compile(r"/api/v1/customers/[^/]+/overview")


def is_own_path(path: str) -> bool:
    """The gateway's own route under /api/v1 (GatewayApp leaves it to the router, not the proxy)."""
    return path.endswith("/overview") and _OVERVIEW_PATH.fullmatch(path) is not None


class CustomerOverview(BaseModel):
    """Each part is the owning service's own answer, relayed as it is (the profile masked, as profile
    serves it). A part is null when its service has nothing for the customer, or when it is missing:
    then `partial` names it with the reason. In the merged OpenAPI each part has its owner's schema
    (gateway.openapi); here, without the services' documents, the parts are plain objects."""

    customer_id: UUID
    profile: dict[str, Any] | None = None
    risk_assessment: dict[str, Any] | None = Field(None, description="The valid risk assessment (level C1..C5)")
    segments: list[OverviewSegment] | None = Field(None, description="The customer's class in every scheme")
    points: dict[str, Any] | None = Field(None, description="The points account with its balance")
    points_expiring: dict[str, Any] | None = Field(None, description="Points expiring within 30 days")
    open_complaints: list[dict[str, Any]] | None = Field(None, description="Open complaints with due dates")
    latest_satisfaction: dict[str, Any] | None = Field(None, description="The latest survey response's scores")
    partial: list[MissingPart] = Field(default_factory=list)
    generated_at: datetime


router = APIRouter(tags=["overview"])


@router.get(
    OVERVIEW_ROUTE,
    response_model=CustomerOverview,
    summary="Everything about one customer, from every service, in one call",
    responses=problem_responses(401, 404, 422, 429),
)
async def customer_overview(
    request: Request,
    customer_id: Annotated[UUID, Path(description="The customer's id")],
    caller: EveryoneCustomersRead,
    purpose: Annotated[
        Purpose,
        Query(
            description="why staff read the customer (customer_service, marketing, risk_control, compliance or "
            "analysis): profile writes each staff overview to its access log with it"
        ),
    ] = "customer_service",
) -> Response:
    """Fetches the parts concurrently within GATEWAY_OVERVIEW_BUDGET_SECONDS and forwards the caller's
    token, so each service applies its own rules; a staff caller's read is written to profile's access
    log with its purpose. A part that is missing is named in `partial` with
    its reason (not_configured, unavailable, timeout, circuit_open, forbidden, error). 404 when profile
    says the customer does not exist; a customer token gets only its own overview (404 otherwise)."""
    request.state.metrics_route = OVERVIEW_ROUTE
    ensure_own_customer(caller, str(customer_id), NotFound("No such customer", code="customer_not_found"))
    state = request.app.state
    await state.rate_limiter.check(caller, "GET", "customers/overview")
    headers = caller_headers(request.scope)
    parts = overview_parts(None if caller.is_customer else purpose)
    values, missing = await fan_out(state.forwarder, str(customer_id), headers, label=OVERVIEW_ROUTE, parts=parts)
    for gap in missing:
        state.upstream_metrics.overview_partial.labels(gap.part, gap.reason).inc()
    overview = CustomerOverview(customer_id=customer_id, **values, partial=missing, generated_at=datetime.now(UTC))
    # Serialised once here; returned through response_model it would be validated a second time.
    return Response(overview.model_dump_json(by_alias=True), media_type="application/json")
