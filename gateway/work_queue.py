"""GET /api/v1/work-queue: a staff member's one list of what to do, soonest due first: their care tasks
(loyalty), the complaints assigned to them at risk of missing the legal deadline or past it, and the
detractor follow-ups of their branch, those whose call-back is due marked as such (feedback). Fetched
at once through the overview's fan-out (gateway.overview_fanout) with the caller's token, so each service
applies its own rules; a source that does not answer is named in `partial`, never silently missing."""

from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from gateway.overview_fanout import MissingPart, Part, caller_headers, fan_out
from services.common.access import Staff
from services.common.errors import problem_responses

WORK_QUEUE_ROUTE = "/api/v1/work-queue"
Kind = Literal["care_task", "complaint_at_risk", "complaint_overdue", "detractor_follow_up", "callback_due"]
LIMIT = 200  # per source; a queue longer than this is a branch's backlog, not one person's day


def is_own_path(path: str) -> bool:
    """The gateway's own route under /api/v1 (GatewayApp leaves it to the router, not the proxy)."""
    return path == WORK_QUEUE_ROUTE


def parts(branch: str | None) -> tuple[Part, ...]:
    follow_ups = f"/v1/follow-ups?status=open&limit={LIMIT}"
    if branch:
        follow_ups += f"&branch_code={quote(branch)}"
    return (
        Part("care_tasks", "loyalty", f"/v1/loyalty/care-tasks?mine=true&status=open&limit={LIMIT}"),
        Part("complaints", "feedback", "/v1/complaints/escalations?handler=me"),
        Part("follow_ups", "feedback", follow_ups),
    )


class WorkItem(BaseModel):
    kind: Kind
    id: str = Field(description="the item's id in its owning service")
    service: str = Field(description="the service that owns the item (and where it is acted on)")
    customer_id: str | None
    due_at: datetime
    summary: str = Field(description="what it is: the care task's kind, the complaint's cause, the follow-up's reason")
    item: dict[str, Any] = Field(description="the owning service's own item, as it serves it")


class WorkQueue(BaseModel):
    items: list[WorkItem] = Field(description="soonest due first")
    partial: list[MissingPart] = Field(
        default_factory=list, description="the sources that did not answer, and why: their items are not listed"
    )
    generated_at: datetime


def _items(body: Any, key: str = "items") -> list[dict[str, Any]]:
    found = body.get(key) if isinstance(body, dict) else None
    return [i for i in found if isinstance(i, dict)] if isinstance(found, list) else []


def _work(kind: Kind, service: str, item: dict[str, Any], summary_field: str) -> WorkItem | None:
    try:
        return WorkItem(
            kind=kind,
            id=str(item["id"]),
            service=service,
            customer_id=item.get("customer_id"),
            due_at=item["due_at"],
            summary=str(item.get(summary_field) or ""),
            item=item,
        )
    except (KeyError, ValueError):
        return None  # an item the gateway cannot read is left out rather than failing the queue


def merge(values: dict[str, Any], now: datetime) -> list[WorkItem]:
    """The sources' items as one list, soonest due first."""
    found: list[WorkItem | None] = [_work("care_task", "loyalty", i, "kind") for i in _items(values.get("care_tasks"))]
    complaints = values.get("complaints")
    found += [_work("complaint_overdue", "feedback", i, "cause") for i in _items(complaints, "overdue")]
    overdue = {w.id for w in found if w is not None and w.kind == "complaint_overdue"}
    found += [
        _work("complaint_at_risk", "feedback", i, "cause")
        for i in _items(complaints, "at_risk")
        if str(i.get("id")) not in overdue
    ]
    for i in _items(values.get("follow_ups")):
        w = _work("detractor_follow_up", "feedback", i, "reason")
        if w is not None and w.due_at <= now:
            w.kind = "callback_due"
        found.append(w)
    return sorted((w for w in found if w is not None), key=lambda w: (w.due_at, w.kind, w.id))


router = APIRouter(tags=["work queue"])


@router.get(
    WORK_QUEUE_ROUTE,
    response_model=WorkQueue,
    summary="The caller's work queue: care tasks, complaints at risk, follow-ups and call-backs due",
    responses=problem_responses(401, 403, 429),
)
async def work_queue(request: Request, caller: Staff) -> Response:
    """For staff, supervisors and admins (a customer or system token: 403). Care tasks are those of the
    customers the caller manages; complaints those assigned to the caller (at risk: 80% of the time
    gone without a decision; overdue: past the deadline); follow-ups those of the caller's branch (every
    branch for an admin), a call-back whose due time has passed is `callback_due`. Each source answers
    within GATEWAY_OVERVIEW_BUDGET_SECONDS or is named in `partial` with the reason."""
    request.state.metrics_route = WORK_QUEUE_ROUTE
    state = request.app.state
    await state.rate_limiter.check(caller, "GET", "work-queue")
    headers = caller_headers(request.scope)
    values, missing = await fan_out(state.forwarder, "", headers, label=WORK_QUEUE_ROUTE, parts=parts(caller.branch))
    for gap in missing:
        state.upstream_metrics.work_queue_partial.labels(gap.part, gap.reason).inc()
    now = datetime.now(UTC)
    queue = WorkQueue(items=merge(values, now), partial=missing, generated_at=now)
    return Response(queue.model_dump_json(), media_type="application/json")
