"""Stand-ins for the services the overview and the personal-data export call, as small FastAPI apps
served over real HTTP (by ServedApp in-process, or by uvicorn in a process of its own through
`create_standin`). Each answers with fixed data, documents itself at /openapi.json, records what it
received, and can be steered: `delay` (seconds before each /v1 answer), `status` (answer every /v1
call with it), `down_paths` (path prefixes answered 503); POST /_standin {"delay": 2, "status": 503}
steers it from outside."""

import asyncio
import os
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

RISK = {"level": "C3", "assessed_at": "2026-01-10T08:00:00Z", "expires_at": "2027-01-10T08:00:00Z"}
# Shaped like segmentation's MembershipRead (features left out).
MEMBERSHIPS = {
    "classes": {"asset_size": "mid_high", "region": "urban"},
    "segments": [{"segment_id": "s-1", "name": "高净值潜客", "since": "2026-11-01T00:00:00Z"}],
}
ACCOUNT = {"balance": 1200, "status": "active"}
EXPIRING = {"points": 300, "within": "30d", "earliest_at": "2026-12-01T00:00:00Z"}
# Shaped like feedback's ComplaintSummary: the overview keeps those whose handling has not ended.
COMPLAINTS = [
    {"id": "c-1", "state": "investigating", "due_at": "2026-12-05T00:00:00Z"},
    {"id": "c-0", "state": "closed", "due_at": "2026-10-01T00:00:00Z"},
]
SURVEY = {"id": "r-9", "nps": 9, "csat": 5, "ces": None, "responded_at": "2026-11-20T09:00:00Z"}
# The work queue's sources, shaped like loyalty's CareTaskRead, feedback's Escalations and FollowUpRead.
CARE_TASKS = [
    {"id": "t-1", "customer_id": "cu-1", "kind": "risk_expiry", "due_at": "2026-12-20T01:00:00Z", "status": "open"},
]
ESCALATIONS = {
    "at_risk": [
        {"id": "c-7", "customer_id": "cu-2", "cause": "fees", "due_at": "2026-12-08T16:00:00Z", "at_risk": True},
        {"id": "c-8", "customer_id": "cu-3", "cause": "delay", "due_at": "2026-11-30T16:00:00Z", "at_risk": True},
    ],
    "overdue": [
        {"id": "c-8", "customer_id": "cu-3", "cause": "delay", "due_at": "2026-11-30T16:00:00Z", "overdue": True},
    ],
}
FOLLOW_UPS = [
    {"id": "f-1", "customer_id": "cu-4", "reason": "nps_detractor", "due_at": "2026-01-02T00:00:00Z"},
    {"id": "f-2", "customer_id": "cu-5", "reason": "nps_detractor", "due_at": "2099-01-02T00:00:00Z"},
]
# Each service's part of a personal-data export; the name tests that the HTML document escapes values.
EXPORTED_NAME = '<script>alert("x")</script>王小明 & Co'
PRODUCED_AT = "2026-12-05T10:00:00Z"


class Summary(BaseModel):
    """Named the same in two stand-ins with different fields, so the merged OpenAPI must rename one."""

    total: int


class StandIn:
    def __init__(self, service: str):
        self.service = service
        self.delay = 0.0
        self.status: int | None = None
        self.down_paths: tuple[str, ...] = ()
        self.seen: list[dict[str, Any]] = []
        self.openapi_calls = 0
        self.app = FastAPI(title=f"{service} stand-in", openapi_url=None, docs_url=None, redoc_url=None)
        self.app.middleware("http")(self._steer)
        self.app.add_api_route("/health/ready", self._ready)
        self.app.add_api_route("/health/live", self._ready)
        self.app.add_api_route("/openapi.json", self._openapi, include_in_schema=False)
        # Steering from another process (end-to-end tests); the gateway never routes outside /v1.
        self.app.add_api_route("/_standin", self._steer_settings, methods=["POST"], include_in_schema=False)
        getattr(self, f"_{service}_routes")()
        if service != "profile":
            self.app.add_api_route("/v1/personal-data/{customer_id}", self._personal_data, tags=["personal data"])

    async def _personal_data(self, customer_id: str) -> dict:
        data = {"held_by": self.service, "access_log": [{"action": "personal_data.exported"}]}
        return {"service": self.service, "customer_id": customer_id, "produced_at": PRODUCED_AT, "data": data}

    async def _ready(self) -> dict:
        return {"status": "ok"}

    async def _steer_settings(self, request: Request) -> dict:
        settings = await request.json()
        self.delay = float(settings.get("delay", self.delay))
        self.status = settings.get("status", self.status)
        return {"delay": self.delay, "status": self.status, "seen": len(self.seen)}

    async def _openapi(self) -> JSONResponse:
        self.openapi_calls += 1
        return JSONResponse(self.app.openapi())

    async def _steer(self, request: Request, call_next):
        if not request.url.path.startswith("/v1/"):
            return await call_next(request)
        self.seen.append(
            {
                "path": request.url.path,
                "query": request.url.query,
                "authorization": request.headers.get("authorization"),
                "x-request-id": request.headers.get("x-request-id"),
            }
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status is not None:
            return JSONResponse({"code": "stand_in"}, status_code=self.status)
        if any(request.url.path.startswith(p) for p in self.down_paths):
            return JSONResponse({"code": "stand_in"}, status_code=503)
        return await call_next(request)

    def _profile_routes(self) -> None:
        @self.app.get("/v1/customers/{customer_id}", tags=["customers"])
        async def read_customer(customer_id: str) -> dict:
            if customer_id == "00000000-0000-0000-0000-000000000404":
                return JSONResponse({"code": "customer_not_found"}, status_code=404)
            return {"id": customer_id, "name": "王小明", "phone": "138****5678", "id_number": "110105********002X"}

        @self.app.get("/v1/customers/{customer_id}/export", tags=["customers"])
        async def export_customer(customer_id: str) -> dict:
            if customer_id == "00000000-0000-0000-0000-000000000404":
                return JSONResponse({"code": "customer_not_found"}, status_code=404)
            return {"exported_at": PRODUCED_AT, "customer": {"id": customer_id, "name": EXPORTED_NAME}}

        @self.app.get("/v1/customers/{customer_id}/risk-assessments/current", tags=["customers"])
        async def current_risk(customer_id: str) -> dict:
            return {"customer_id": customer_id, **RISK}

        @self.app.get("/v1/events", tags=["events"])
        async def events() -> dict:
            return {"items": []}

    def _segmentation_routes(self) -> None:
        @self.app.get("/v1/memberships", tags=["memberships"])
        async def list_memberships(customer_id: str) -> dict:
            return {"customer_id": customer_id, **MEMBERSHIPS}

        @self.app.get("/v1/segments/summary", tags=["segments"])
        async def summary() -> Summary:
            return Summary(total=2)

    def _loyalty_routes(self) -> None:
        @self.app.get("/v1/loyalty/accounts/{customer_id}", tags=["loyalty"])
        async def read_account(customer_id: str) -> dict:
            return {"customer_id": customer_id, **ACCOUNT}

        @self.app.get("/v1/loyalty/accounts/{customer_id}/expiring", tags=["loyalty"])
        async def expiring(customer_id: str, within: str) -> dict:
            return {"customer_id": customer_id, **EXPIRING}

        @self.app.get("/v1/loyalty/care-tasks", tags=["care"])
        async def care_tasks(mine: bool, status: str, limit: int) -> dict:
            return {"items": CARE_TASKS, "next_cursor": None}

    def _feedback_routes(self) -> None:
        @self.app.get("/v1/complaints", tags=["complaints"])
        async def list_complaints(customer_id: str, limit: int) -> dict:
            return {"items": [{"customer_id": customer_id, **c} for c in COMPLAINTS], "next_cursor": None}

        @self.app.get("/v1/surveys/responses", tags=["surveys"])
        async def list_responses(customer_id: str, limit: int) -> dict:
            return {"items": [{"customer_id": customer_id, **SURVEY}], "next_cursor": None}

        @self.app.get("/v1/complaints/escalations", tags=["complaints"])
        async def escalations(handler: str) -> dict:
            return ESCALATIONS

        @self.app.get("/v1/follow-ups", tags=["follow-ups"])
        async def follow_ups(status: str, limit: int, branch_code: str | None = None) -> dict:
            return {"items": FOLLOW_UPS, "next_cursor": None}

        # Same schema name as segmentation's, other fields: the merged document must keep both.
        summary_model = type("Summary", (BaseModel,), {"__annotations__": {"opened": int, "overdue": int}})

        @self.app.get("/v1/complaints/summary", tags=["complaints"], response_model=summary_model)
        async def complaint_summary() -> dict:
            return {"opened": 1, "overdue": 0}


def create_standin() -> FastAPI:
    """For `uvicorn --factory tests.gateway.standins:create_standin` with STANDIN_SERVICE set."""
    return StandIn(os.environ["STANDIN_SERVICE"]).app
