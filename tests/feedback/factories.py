"""Plain factory functions for feedback tests: complaint and survey bodies, steps, events."""

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from services.common.outbox import Event
from tests.organisation import HOME_OUTLET, place_customer


def complaint(**overrides) -> dict[str, Any]:
    body = {
        "customer_id": str(uuid.uuid4()),
        "channel": "branch_counter",
        "business_type": "savings",
        "cause": "service_attitude",
        "amount": "120.50",
        "description": "柜台工作人员态度恶劣，办理业务等待时间过长",
        "branch_code": "BJ0001",
        "staff_complained_about": "staff-zhang",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def file(client: TestClient, headers: dict, body: dict | None = None) -> dict:
    resp = client.post("/v1/complaints", json=body or complaint(), headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def step(client: TestClient, headers: dict, complaint_id: str, action: str, expect: int = 200, **fields) -> dict:
    resp = client.post(f"/v1/complaints/{complaint_id}/steps", json={"action": action, **fields}, headers=headers)
    assert resp.status_code == expect, resp.text
    return resp.json()


def decision(**overrides) -> dict[str, Any]:
    body = {
        "facts_verified": "核实柜员服务用语不规范",
        "basis": "《银行业保险业消费投诉处理管理办法》",
        "outcome": "partly_upheld",
        "remedy": {"kinds": ["apology", "fee_waiver"]},
        "communicated_via": "phone",
        "communicated_at": "2026-03-02T01:00:00Z",
        "routes": ["review", "mediation"],
    }
    body.update(overrides)
    return body


def to_investigating(client: TestClient, headers: dict, complaint_id: str, handler: str = "staff-li") -> dict:
    step(client, headers, complaint_id, "acknowledge")
    step(client, headers, complaint_id, "assign", handler_sub=handler)
    return step(client, headers, complaint_id, "investigate")


def to_decided(client: TestClient, headers: dict, complaint_id: str) -> dict:
    to_investigating(client, headers, complaint_id)
    return step(client, headers, complaint_id, "decide", **decision())


def events(client: TestClient, headers: dict, type_: str | None = None) -> list[dict]:
    items = client.get("/v1/events", params={"limit": 1000}, headers=headers).json()["items"]
    return [e for e in items if type_ is None or e["type"] == type_]


def survey(**overrides) -> dict[str, Any]:
    body = {
        "title": "网点服务满意度调查",
        "questions": [
            {"id": "nps", "type": "nps", "text": "您向亲友推荐我行的可能性有多大？"},
            {"id": "csat", "type": "csat", "text": "您对本次服务满意吗？", "required": False},
            {"id": "ces", "type": "ces", "text": "办理业务是否省力？", "required": False},
            {
                "id": "wait",
                "type": "single_choice",
                "text": "等候时间",
                "options": ["<10min", "10-30min", ">30min"],
                "required": False,
            },
            {
                "id": "used",
                "type": "multiple_choice",
                "text": "使用过的渠道",
                "options": ["counter", "app", "atm"],
                "required": False,
            },
            {"id": "comment", "type": "free_text", "text": "其他意见", "required": False, "max_chars": 200},
        ],
        "channel": "app",
        "opens_at": "2026-01-01T00:00:00Z",
        "closes_at": "2026-12-31T00:00:00Z",
    }
    body.update(overrides)
    return body


def published_survey(client: TestClient, headers: dict, **overrides) -> dict:
    created = client.post("/v1/surveys", json=survey(**overrides), headers=headers)
    assert created.status_code == 201, created.text
    resp = client.post(f"/v1/surveys/{created.json()['id']}/publish", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def answer(client: TestClient, headers: dict, survey_id: str, expect: int = 201, **answers) -> dict:
    body = {"answers": answers}
    if "customer_id" in answers:
        body["customer_id"] = answers.pop("customer_id")
    resp = client.post(f"/v1/surveys/{survey_id}/responses", json=body, headers=headers)
    assert resp.status_code == expect, resp.text
    return resp.json()


_pos = iter(range(1, 10**9))


def event(type_: str, subject: str, **data) -> Event:
    return Event(
        position=next(_pos),
        event_id=str(uuid.uuid4()),
        type=type_,
        occurred_at=datetime.now(UTC),
        subject_id=subject,
        data=data,
    )


def known_customer(client: TestClient, branch_code: str = HOME_OUTLET) -> str:
    """A customer feedback knows (as profile's feed would tell it) at `branch_code`, by default within
    the default staff token's reach: its follow-ups and responses are that branch's."""
    customer_id = str(uuid.uuid4())
    place_customer("feedback", client.app.state.db, customer_id, branch_code)
    return customer_id
