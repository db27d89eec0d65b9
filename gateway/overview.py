"""GET /api/v1/customers/{customer_id}/overview: one customer as a manager's screen or the mobile app's
home page needs it, fetched from every service at once within one time budget. What did not arrive
in time, or could not be had, is named in `partial`; the answer is never a 500 and never late."""

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field

from gateway.headers import forwarded_headers
from services.common.auth import Principal, current_principal, ensure_own_customer
from services.common.context import current_request_id
from services.common.errors import NotFound, ProblemError, UpstreamTimeout, problem_responses

log = logging.getLogger("gateway.overview")
OVERVIEW_ROUTE = "/api/v1/customers/{customer_id}/overview"
_OVERVIEW_PATH = re.compile(r"/api/v1/customers/[^/]+/overview")


def is_own_path(path: str) -> bool:
    """The gateway's own route under /api/v1 (ProxyMiddleware leaves it to the router)."""
    return path.endswith("/overview") and _OVERVIEW_PATH.fullmatch(path) is not None


Reason = Literal["not_configured", "unavailable", "timeout", "circuit_open", "forbidden", "error"]


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    service: str
    path: str  # a format string over {id}, as the owning service serves it
    absent_means_none: bool = True  # a 404 says "nothing of this kind", not "missing"


PARTS = (
    Part("profile", "profile", "/v1/customers/{id}", absent_means_none=False),
    Part("risk_assessment", "profile", "/v1/customers/{id}/risk-assessments/current"),
    Part("segments", "segmentation", "/v1/memberships?customer_id={id}"),
    Part("points", "loyalty", "/v1/loyalty/accounts/{id}"),
    Part("points_expiring", "loyalty", "/v1/loyalty/accounts/{id}/expiring?within=30d"),
    Part("open_complaints", "feedback", "/v1/complaints?customer_id={id}&limit=50"),
    Part("latest_satisfaction", "feedback", "/v1/surveys/responses?customer_id={id}&limit=1"),
)


class MissingPart(BaseModel):
    part: str
    service: str
    reason: Reason
    detail: str


class CustomerOverview(BaseModel):
    """Each part is the owning service's own answer, relayed as it is (the profile masked, as profile
    serves it). A part is null when its service has nothing for the customer, or when it is missing:
    then `partial` names it with the reason."""

    customer_id: UUID
    profile: dict[str, Any] | None = None
    risk_assessment: dict[str, Any] | None = Field(None, description="The valid risk assessment (level C1..C5)")
    segments: list[dict[str, Any]] | None = Field(None, description="The customer's class in every scheme")
    points: dict[str, Any] | None = Field(None, description="The points account with its balance")
    points_expiring: dict[str, Any] | None = Field(None, description="Points expiring within 30 days")
    open_complaints: list[dict[str, Any]] | None = Field(None, description="Open complaints with due dates")
    latest_satisfaction: dict[str, Any] | None = Field(None, description="The latest survey response's scores")
    partial: list[MissingPart] = Field(default_factory=list)
    generated_at: datetime


def _items(body: Any) -> Any:
    # Lists are pages ({"items": [...], "next_cursor": ...}); the overview wants the items.
    return body.get("items") if isinstance(body, dict) and isinstance(body.get("items"), list) else body


# Feedback's complaint states after which handling has ended.
ENDED_COMPLAINT_STATES = frozenset({"closed", "withdrawn"})


def _segments(body: Any) -> list[dict[str, Any]] | None:
    """Segmentation's membership document ({"classes": {scheme: class}, "segments": [rule segments]})
    as one list: a {scheme, class} per built-in scheme, then {scheme: "rule:<id>", class: "member",
    name, since} per rule segment the customer is in."""
    if not isinstance(body, dict) or not isinstance(body.get("classes"), dict):
        return None
    shaped: list[dict[str, Any]] = [{"scheme": scheme, "class": cls} for scheme, cls in body["classes"].items()]
    for seg in body.get("segments") or []:
        if isinstance(seg, dict) and "segment_id" in seg:
            shaped.append(
                {
                    "scheme": f"rule:{seg['segment_id']}",
                    "class": "member",
                    "name": seg.get("name"),
                    "since": seg.get("since"),
                }
            )
    return shaped


def _shape(name: str, body: Any) -> Any:
    if name == "open_complaints":
        items = _items(body)
        if not isinstance(items, list):
            return None
        return [c for c in items if isinstance(c, dict) and c.get("state") not in ENDED_COMPLAINT_STATES]
    if name == "segments":
        return _segments(body)
    if name == "latest_satisfaction":
        items = _items(body)
        if isinstance(items, list):
            return items[0] if items else None
    return body if isinstance(body, dict) else None


class Missing(Exception):
    def __init__(self, reason: Reason, detail: str):
        self.reason, self.detail = reason, detail


async def fetch_part(request: Request, part: Part, customer_id: str, headers: list) -> Any:
    """The part's shaped body, or None when the service has nothing; raises Missing otherwise."""
    settings = request.app.state.settings
    base_url = settings.service_url(part.service)
    if not base_url:
        raise Missing("not_configured", f"The {part.service} service is not configured")
    forwarder = request.app.state.forwarder
    try:
        response, _ = await forwarder.send(
            part.service,
            base_url,
            "GET",
            part.path.format(id=customer_id),
            headers,
            retryable=True,
            stream=False,
            label=OVERVIEW_ROUTE,
        )
    except ProblemError as err:
        reason = (
            "circuit_open"
            if err.code == "circuit_open"
            else ("timeout" if isinstance(err, UpstreamTimeout) else "unavailable")
        )
        raise Missing(reason, err.detail) from None
    status = response.status_code
    if status == 404 and part.absent_means_none:
        return None
    if status == 404:
        raise NotFound("No such customer", code="customer_not_found")
    if status in (401, 403):
        raise Missing("forbidden", f"The {part.service} service refused this caller ({status})")
    if status != 200:
        raise Missing("unavailable" if status >= 500 else "error", f"The {part.service} service answered {status}")
    try:
        return _shape(part.name, response.json())
    except ValueError:
        raise Missing("error", f"The {part.service} service answered something that is not JSON") from None


router = APIRouter(tags=["overview"])


@router.get(
    OVERVIEW_ROUTE,
    response_model=CustomerOverview,
    summary="Everything about one customer, from every service, in one call",
    responses=problem_responses(401, 404, 429),
)
async def customer_overview(
    request: Request,
    customer_id: Annotated[UUID, Path(description="The customer's id")],
    caller: Annotated[Principal, Depends(current_principal)],
) -> Response:
    """Fetches the parts concurrently within GATEWAY_OVERVIEW_BUDGET_SECONDS and forwards the caller's
    token, so each service applies its own rules. A part that is missing is named in `partial` with
    its reason (not_configured, unavailable, timeout, circuit_open, forbidden, error). 404 when profile
    says the customer does not exist; a customer token gets only its own overview (404 otherwise)."""
    request.state.metrics_route = OVERVIEW_ROUTE
    ensure_own_customer(caller, str(customer_id), NotFound("No such customer", code="customer_not_found"))
    await request.app.state.rate_limiter.check(caller, "GET", "customers/overview")
    settings = request.app.state.settings
    headers = [(n, v) for n, v in forwarded_headers(request.scope, current_request_id() or "") if n in _FORWARDED]
    tasks = {part: asyncio.ensure_future(fetch_part(request, part, str(customer_id), headers)) for part in PARTS}
    await asyncio.wait(tasks.values(), timeout=settings.overview_budget_seconds)
    values: dict[str, Any] = {}
    missing: list[MissingPart] = []
    for part, task in tasks.items():
        if not task.done():
            task.cancel()
            missing.append(
                MissingPart(
                    part=part.name,
                    service=part.service,
                    reason="timeout",
                    detail=f"No answer within {settings.overview_budget_seconds:g} s",
                )
            )
            continue
        err = task.exception()
        if isinstance(err, Missing):
            missing.append(MissingPart(part=part.name, service=part.service, reason=err.reason, detail=err.detail))
        elif isinstance(err, NotFound):
            _cancel(tasks)
            raise err
        elif err is not None:
            log.error(
                "overview part failed",
                exc_info=(type(err), err, err.__traceback__),
                extra={"fields": {"part": part.name}},
            )
            missing.append(
                MissingPart(part=part.name, service=part.service, reason="error", detail="The part could not be read")
            )
        else:
            values[part.name] = task.result()
    metrics = request.app.state.upstream_metrics
    for gap in missing:
        metrics.overview_partial.labels(gap.part, gap.reason).inc()
    overview = CustomerOverview(customer_id=customer_id, **values, partial=missing, generated_at=datetime.now(UTC))
    # Serialised once here; returned through response_model it would be validated a second time.
    return Response(overview.model_dump_json(), media_type="application/json")


# What the parts' requests carry from the caller: its token and language, and the gateway's own.
_FORWARDED = frozenset(
    {
        b"authorization",
        b"accept-language",
        b"x-request-id",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
    }
)


def _cancel(tasks: dict) -> None:
    for task in tasks.values():
        task.cancel()
