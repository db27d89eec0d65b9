"""GET /api/v1/customers/{customer_id}/personal-data-export: a copy of everything the suite holds about
one person (PIPL art. 45), each service's own export fetched at once (gateway.overview_fanout) within
GATEWAY_EXPORT_BUDGET_SECONDS, with a manifest of the parts. Never silently incomplete: a part that
could not be had is in `missing` with its reason and `complete` is false; without profile's part (the
person's record) there is no export, a 503. JSON, or a readable document (gateway.export_html)."""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel, Field

from gateway.export_html import render_html
from gateway.overview_fanout import MissingPart, Part, caller_headers, fan_out
from services.common.access import CustomerOrSupervisor
from services.common.auth import ensure_own_customer
from services.common.errors import NotFound, UpstreamUnavailable, problem_responses

EXPORT_ROUTE = "/api/v1/customers/{customer_id}/personal-data-export"
_EXPORT_PATH = re.compile(r"/api/v1/customers/[^/]+/personal-data-export")
RECORD = "profile"  # the part without which there is no export
PARTS = (
    Part(RECORD, "profile", "/v1/customers/{id}/export", absent_means_none=False, is_record=True),
    Part("loyalty", "loyalty", "/v1/personal-data/{id}", absent_means_none=False),
    Part("feedback", "feedback", "/v1/personal-data/{id}", absent_means_none=False),
    Part("segmentation", "segmentation", "/v1/personal-data/{id}", absent_means_none=False),
)


def is_own_path(path: str) -> bool:
    """The gateway's own route under /api/v1 (GatewayApp leaves it to the router, not the proxy)."""
    return path.endswith("/personal-data-export") and _EXPORT_PATH.fullmatch(path) is not None


class ManifestEntry(BaseModel):
    part: str
    service: str
    produced_at: datetime | None = Field(description="when the service produced its part, as it says")


class PersonalDataExport(BaseModel):
    """Each part is its service's own export, relayed as the service gave it: profile's document
    (`GET /v1/customers/{id}/export`), and loyalty's, feedback's and segmentation's
    `{service, customer_id, produced_at, data}`. A missing part is null and named in `missing`."""

    customer_id: UUID
    complete: bool = Field(description="false when any part is missing")
    generated_at: datetime
    manifest: list[ManifestEntry] = Field(description="every part that is in the export")
    missing: list[MissingPart] = Field(description="every part that could not be had, with the reason")
    profile: dict[str, Any] | None = Field(None, description="profile: identity, contacts, consents, risk, ...")
    loyalty: dict[str, Any] | None = Field(None, description="account, ledger, redemptions, vouchers, events")
    feedback: dict[str, Any] | None = Field(None, description="complaints with steps, survey responses, follow-ups")
    segmentation: dict[str, Any] | None = Field(
        None, description="features, classes, memberships and their history, recommendations"
    )


def _produced_at(body: dict[str, Any]) -> Any:
    return body.get("produced_at") or body.get("exported_at")  # profile's document says exported_at


router = APIRouter(tags=["personal data"])


@router.get(
    EXPORT_ROUTE,
    response_model=PersonalDataExport,
    summary="A copy of everything the suite holds about the person, from every service (PIPL art. 45)",
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
        **problem_responses(401, 403, 404, 422, 429, 503),
    },
)
async def personal_data_export(
    request: Request,
    customer_id: Annotated[UUID, Path(description="The customer's id")],
    caller: CustomerOrSupervisor,
    format: Annotated[
        Literal["json", "html"] | None, Query(description="html: a readable document; default: by Accept")
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """The customer (its own id; another is 404), a supervisor or an admin. Each service writes the
    export to its access log. 503 `export_unavailable` when profile's part cannot be had. The HTML
    document (`Accept: text/html` or `?format=html`) has Chinese labels and every value escaped."""
    request.state.metrics_route = EXPORT_ROUTE
    ensure_own_customer(caller, str(customer_id), NotFound("No such customer", code="customer_not_found"))
    state = request.app.state
    await state.rate_limiter.check(caller, "GET", "customers/personal-data-export")
    values, missing = await fan_out(
        state.forwarder,
        str(customer_id),
        caller_headers(request.scope),
        label=EXPORT_ROUTE,
        parts=PARTS,
        budget=state.settings.export_budget_seconds,
    )
    missing += [
        MissingPart(
            part=p.name, service=p.service, reason="error", detail=f"The {p.service} service's answer was empty"
        )
        for p in PARTS
        if p.name in values and not isinstance(values[p.name], dict)
    ]
    outcomes = state.upstream_metrics.exports
    gap = next((m for m in missing if m.part == RECORD), None)
    if gap is not None:
        outcomes.labels("failed").inc()
        raise UpstreamUnavailable(
            f"The person's record could not be had ({gap.reason}): no export",
            code="export_unavailable",
            service="profile",
        )
    export = PersonalDataExport(
        customer_id=customer_id,
        complete=not missing,
        generated_at=datetime.now(UTC),
        manifest=[
            ManifestEntry(part=p.name, service=p.service, produced_at=_produced_at(values[p.name]))
            for p in PARTS
            if isinstance(values.get(p.name), dict)
        ],
        missing=missing,
        **{name: value for name, value in values.items() if isinstance(value, dict)},
    )
    outcomes.labels("complete" if export.complete else "partial").inc()
    headers = {"Cache-Control": "no-store"}
    if format == "html" or (format is None and "text/html" in (accept or "")):
        return Response(render_html(export.model_dump(mode="json")), media_type="text/html", headers=headers)
    return Response(export.model_dump_json(), media_type="application/json", headers=headers)
