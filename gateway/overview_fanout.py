"""The gateway's fan-out to every service for one customer (the overview, and the personal-data export
in gateway.export): which part each service gives, every part fetched at once within one time budget,
each answer shaped into its part, and what could not be had named with its reason."""

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.types import Scope

from gateway.headers import forwarded_headers
from gateway.proxy import Forwarder
from services.common.context import current_request_id
from services.common.errors import NotFound, ProblemError, UpstreamTimeout

log = logging.getLogger("gateway.overview")

Reason = Literal["not_configured", "unavailable", "timeout", "circuit_open", "forbidden", "error"]
Headers = list[tuple[bytes, bytes]]
# Feedback's complaint states after which handling has ended.
ENDED_COMPLAINT_STATES = frozenset({"closed", "withdrawn"})
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


Shape = Literal["body", "items", "first_item", "segments"]


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    service: str
    path: str  # a format string over {id}, as the owning service serves it
    absent_means_none: bool = True  # a 404 says "nothing of this kind", not "missing"
    is_record: bool = False  # the customer's record: a 404 says the customer does not exist
    # What of the service's answer the part is: all of it, the items of its page, the first item, or
    # the membership document as OverviewSegment items. The merged OpenAPI types the part by it.
    shape: Shape = "body"


PARTS = (
    Part("profile", "profile", "/v1/customers/{id}", absent_means_none=False, is_record=True),
    Part("risk_assessment", "profile", "/v1/customers/{id}/risk-assessments/current"),
    Part("segments", "segmentation", "/v1/memberships?customer_id={id}", shape="segments"),
    Part("points", "loyalty", "/v1/loyalty/accounts/{id}"),
    Part("points_expiring", "loyalty", "/v1/loyalty/accounts/{id}/expiring?within=30d"),
    Part("open_complaints", "feedback", "/v1/complaints?customer_id={id}&limit=50", shape="items"),
    Part("latest_satisfaction", "feedback", "/v1/surveys/responses?customer_id={id}&limit=1", shape="first_item"),
)


def overview_parts(purpose: str | None) -> tuple[Part, ...]:
    """The overview's parts; with a purpose (a staff caller's), profile's read of the customer states it,
    so profile writes the overview to its access log (docs/privacy.md, Bulk reads)."""
    if purpose is None:
        return PARTS
    record = PARTS[0]
    return (replace(record, path=f"{record.path}?purpose={purpose}"), *PARTS[1:])


class OverviewSegment(BaseModel):
    """The customer's class in one scheme; for a rule segment, `rule:<id>` and class `member`."""

    scheme: str = Field(description="customer_type, region, asset_size, behaviour, or rule:<segment id>")
    class_: str | None = Field(alias="class", description="the class in the scheme (`member` for a rule segment)")
    name: str | None = Field(None, description="a rule segment's name")
    since: str | None = Field(
        None,
        description="a rule segment's: member since, as segmentation gives it",
        json_schema_extra={"format": "date-time"},
    )


class MissingPart(BaseModel):
    part: str
    service: str
    reason: Reason
    detail: str


class Missing(Exception):
    def __init__(self, reason: Reason, detail: str):
        self.reason, self.detail = reason, detail


def caller_headers(scope: Scope) -> Headers:
    """The caller's headers that every part's request carries."""
    return [(n, v) for n, v in forwarded_headers(scope, current_request_id() or "") if n in _FORWARDED]


def _items(body: Any) -> Any:
    # Lists are pages ({"items": [...], "next_cursor": ...}); the overview wants the items.
    return body.get("items") if isinstance(body, dict) and isinstance(body.get("items"), list) else body


def _segments(body: Any) -> list[OverviewSegment] | None:
    """Segmentation's membership document ({"classes": {scheme: class}, "segments": [rule segments]})
    as one list: a {scheme, class} per built-in scheme, then {scheme: "rule:<id>", class: "member",
    name, since} per rule segment the customer is in. A document of another shape raises ValueError."""
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
    return [OverviewSegment.model_validate(item) for item in shaped]  # pydantic's ValidationError is a ValueError


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


async def fetch_part(forwarder: Forwarder, part: Part, customer_id: str, headers: Headers, label: str) -> Any:
    """The part's shaped body, or None when the service has nothing; raises Missing otherwise, and
    NotFound when the customer's record (profile) says the customer does not exist."""
    base_url = forwarder.settings.service_url(part.service)
    if not base_url:
        raise Missing("not_configured", f"The {part.service} service is not configured")
    try:
        answer, _ = await forwarder.send(
            part.service,
            base_url,
            "GET",
            part.path.format(id=customer_id),
            headers,
            retryable=True,
            stream=False,
            label=label,
        )
    except ProblemError as err:
        reason: Reason = "timeout" if isinstance(err, UpstreamTimeout) else "unavailable"
        raise Missing("circuit_open" if err.code == "circuit_open" else reason, err.detail) from None
    status = answer.status_code
    if status == 404 and part.absent_means_none:
        return None
    if status == 404 and part.is_record:
        raise NotFound("No such customer", code="customer_not_found")
    if status in (401, 403):
        raise Missing("forbidden", f"The {part.service} service refused this caller ({status})")
    if status != 200:
        raise Missing("unavailable" if status >= 500 else "error", f"The {part.service} service answered {status}")
    try:
        return _shape(part.name, answer.json())
    except ValueError:
        raise Missing("error", f"The {part.service} service's answer could not be read") from None


def _missing(part: Part, task: "asyncio.Future[Any]", budget: float) -> MissingPart | None:
    """Why a part's task has no value (None when it has one). NotFound is raised on."""
    if not task.done():
        task.cancel()
        return MissingPart(
            part=part.name, service=part.service, reason="timeout", detail=f"No answer within {budget:g} s"
        )
    err = task.exception()
    if err is None:
        return None
    if isinstance(err, Missing):
        return MissingPart(part=part.name, service=part.service, reason=err.reason, detail=err.detail)
    if isinstance(err, NotFound):
        raise err
    log.error(
        "fan-out part failed", exc_info=(type(err), err, err.__traceback__), extra={"fields": {"part": part.name}}
    )
    return MissingPart(part=part.name, service=part.service, reason="error", detail="The part could not be read")


async def fan_out(
    forwarder: Forwarder,
    customer_id: str,
    headers: Headers,
    *,
    label: str,
    parts: tuple[Part, ...] = PARTS,
    budget: float | None = None,
) -> tuple[dict[str, Any], list[MissingPart]]:
    """Every part fetched at once within `budget` seconds (GATEWAY_OVERVIEW_BUDGET_SECONDS unless
    given): the parts that arrived, by name, and the missing ones. Raises NotFound when the customer's
    record says the customer does not exist. `label` is the route that upstream metrics name."""
    budget = budget or forwarder.settings.overview_budget_seconds
    tasks = {part: asyncio.ensure_future(fetch_part(forwarder, part, customer_id, headers, label)) for part in parts}
    await asyncio.wait(tasks.values(), timeout=budget)
    values: dict[str, Any] = {}
    missing: list[MissingPart] = []
    try:
        for part, task in tasks.items():
            gap = _missing(part, task, budget)
            if gap is None:
                values[part.name] = task.result()
            else:
                missing.append(gap)
    except NotFound:
        for task in tasks.values():
            task.cancel()
        raise
    return values, missing
