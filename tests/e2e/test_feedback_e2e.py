"""Through the gateway to real profile and feedback processes: a customer registered in profile
reaches feedback's read model over the event feed, files a complaint with its own token, and a
detractor answer opens a follow-up task for the customer's branch."""

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from services.common.config import DEV_JWT_SECRET
from tests.e2e.conftest import Process, base_env, migrate_service

pytestmark = pytest.mark.e2e
REGISTRATION = {
    "type": "individual",
    "name": "李小红",
    "resident_id": "11010519491231002X",
    "phone": "13812345678",
    "region_type": "rural",
    "province": "河北",
    "city": "保定",
    "branch_code": "HB0007",
}
SURVEY = {
    "title": "网点服务满意度",
    "channel": "app",
    "opens_at": "2020-01-01T00:00:00Z",
    "closes_at": "2099-01-01T00:00:00Z",
    "questions": [{"id": "nps", "type": "nps", "text": "推荐意愿"}],
}


@dataclass
class FeedbackSuite:
    profile: Process
    feedback: Process
    gateway: Process


@pytest.fixture
def feedback_suite(tmp_path) -> Iterator[FeedbackSuite]:
    profile_db, feedback_db = f"sqlite:///{tmp_path / 'profile.db'}", f"sqlite:///{tmp_path / 'feedback.db'}"
    migrate_service("profile", profile_db)
    migrate_service("feedback", feedback_db)
    common = {"SUITE_JWT_SECRET": DEV_JWT_SECRET}
    profile = Process(
        "profile",
        "services.profile.app:create_app",
        base_env(PROFILE_DATABASE_URL=profile_db, PROFILE_ENVIRONMENT="test", PROFILE_LOG_LEVEL="WARNING", **common),
        tmp_path / "profile.log",
    )
    feedback = Process(
        "feedback",
        "services.feedback.app:create_app",
        base_env(
            FEEDBACK_DATABASE_URL=feedback_db,
            FEEDBACK_ENVIRONMENT="test",
            FEEDBACK_LOG_LEVEL="WARNING",
            FEEDBACK_PROFILE_FEED_URL=f"{profile.url}/v1/events",
            FEEDBACK_SEGMENTATION_FEED_URL="",
            **common,
        ),
        tmp_path / "feedback.log",
    )
    gateway = Process(
        "gateway",
        "gateway.app:create_app",
        base_env(
            GATEWAY_PROFILE_URL=profile.url,
            GATEWAY_FEEDBACK_URL=feedback.url,
            GATEWAY_ENVIRONMENT="test",
            GATEWAY_LOG_LEVEL="WARNING",
            **common,
        ),
        tmp_path / "gateway.log",
    )
    procs = [profile, feedback, gateway]
    try:
        for p in procs:
            p.spawn()
        for p in procs:
            p.wait_live()
        yield FeedbackSuite(profile=profile, feedback=feedback, gateway=gateway)
    finally:
        for p in reversed(procs):
            p.stop()


def _until(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_registered_customer_files_a_complaint_and_a_detractor_gets_a_follow_up(feedback_suite, auth):
    staff = auth("staff")
    with httpx.Client(base_url=feedback_suite.gateway.url, timeout=10) as http:
        r = http.post("/api/v1/customers", json=REGISTRATION, headers=staff)
        assert r.status_code == 201, r.text
        customer_id = r.json()["id"]
        me = auth("customer", sub=customer_id)

        survey = http.post("/api/v1/surveys", json=SURVEY, headers=staff).json()
        assert http.post(f"/api/v1/surveys/{survey['id']}/publish", headers=staff).status_code == 200
        # the customer reaches feedback's read model through profile's event feed
        seen = _until(
            lambda: http.get(f"/api/v1/surveys/{survey['id']}/analysis", headers=staff).json()["audience_size"] == 1
        )
        assert seen, feedback_suite.feedback.log_tail()

        complaint = {
            "customer_id": customer_id,
            "channel": "mobile_app",
            "business_type": "savings",
            "cause": "systems",
            "description": "手机银行转账失败但已扣款",
            "amount": "500.00",
            "branch_code": "HB0007",
        }
        filed = http.post("/api/v1/complaints", json=complaint, headers=me)
        assert filed.status_code == 201, filed.text
        got = http.get(filed.headers["location"], headers=me).json()
        assert got["state"] == "received" and got["deadline"]["days_left"] == 15
        assert http.get(f"/api/v1/complaints/{got['id']}", headers=auth("customer")).status_code == 404

        answer = http.post(f"/api/v1/surveys/{survey['id']}/responses", json={"answers": {"nps": 3}}, headers=me)
        assert answer.status_code == 201, answer.text
        tasks = http.get(
            "/api/v1/follow-ups", params={"branch_code": "HB0007", "status": "open"}, headers=staff
        ).json()["items"]
        assert [(t["id"], t["customer_id"], t["reason"]) for t in tasks] == [
            (answer.json()["follow_up_id"], customer_id, "nps_3")
        ]
