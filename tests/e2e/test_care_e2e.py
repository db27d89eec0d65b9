"""End to end across real processes (profile, loyalty, feedback, the gateway) on SQLite: a relationship
manager is assigned through the gateway, the customer's risk assessment expires in 20 days, profile's
care_reminders job (its CLI, as a CronJob runs it) puts the occasion on the feed, loyalty makes it a care
task and a notification, the manager's work queue shows the task, and the customer reads the notification
in its inbox with its own token."""

import subprocess
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import create_engine, update

from services.common.config import DEV_JWT_SECRET
from services.profile.models import RiskAssessment
from services.profile.service.questionnaires import INDIVIDUAL
from tests.e2e.conftest import BIN, ROOT, Process, base_env, migrate_service, running
from tests.e2e.test_feedback_e2e import _until
from tests.e2e.test_gateway_profile import REGISTRATION
from tests.profile.test_api_risk import answers_scoring

pytestmark = pytest.mark.e2e


def _service(name: str, url: str, tmp_path, **env: str) -> Process:
    prefix = name.upper()
    values = {
        f"{prefix}_DATABASE_URL": url,
        f"{prefix}_ENVIRONMENT": "test",
        f"{prefix}_LOG_LEVEL": "WARNING",
        f"{prefix}_JWT_SECRET": DEV_JWT_SECRET,
        **{f"{prefix}_{k}": v for k, v in env.items()},
    }
    return Process(name, f"services.{name}.app:create_app", base_env(**values), tmp_path / f"{name}.log")


@pytest.fixture
def care_suite(tmp_path):
    urls = {name: f"sqlite:///{tmp_path / f'{name}.db'}" for name in ("profile", "loyalty", "feedback")}
    for name, url in urls.items():
        migrate_service(name, url)
    profile = _service("profile", urls["profile"], tmp_path, JOBS_IN_PROCESS="false")
    feedback = _service(
        "feedback", urls["feedback"], tmp_path, PROFILE_FEED_URL=f"{profile.url}/v1/events", SEGMENTATION_FEED_URL=""
    )
    loyalty = _service(
        "loyalty",
        urls["loyalty"],
        tmp_path,
        PROFILE_FEED_URL=f"{profile.url}/v1/events",
        FEEDBACK_FEED_URL=f"{feedback.url}/v1/events",
        SEGMENTATION_FEED_URL="",
        SEGMENTATION_URL="",
        FEED_IDLE_SECONDS="0.2",
    )
    gateway = Process(
        "gateway",
        "gateway.app:create_app",
        base_env(
            GATEWAY_PROFILE_URL=profile.url,
            GATEWAY_LOYALTY_URL=loyalty.url,
            GATEWAY_FEEDBACK_URL=feedback.url,
            GATEWAY_ENVIRONMENT="test",
            GATEWAY_LOG_LEVEL="WARNING",
            GATEWAY_JWT_SECRET=DEV_JWT_SECRET,
        ),
        tmp_path / "gateway.log",
    )
    with running(profile, feedback, loyalty, gateway):
        yield gateway, urls["profile"]


def test_a_risk_assessment_expiring_in_20_days_reaches_the_managers_queue_and_the_inbox(care_suite, auth):
    gateway, profile_db = care_suite
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        # A new outlet opened through the API reaches loyalty's copy of the tree on profile's feed (the
        # suite's seeded test tree is written without feed events).
        outlet = {"code": "CR0001", "name": "关怀营业所", "level": "outlet", "parent_code": "BR0001"}
        assert http.post("/api/v1/branches", json=outlet, headers=auth("admin", branch=None)).status_code == 201
        registered = http.post(
            "/api/v1/customers", json={**REGISTRATION, "branch_code": "CR0001"}, headers=auth("staff")
        )
        assert registered.status_code == 201, registered.text
        cid = registered.json()["id"]
        assigned = http.put(
            f"/api/v1/customers/{cid}/manager",
            json={"manager_id": "rm-e2e", "manager_branch_code": "CR0001"},
            headers=auth("supervisor"),
        )
        assert assigned.status_code == 201, assigned.text
        body = {
            "questionnaire_id": "individual",
            "questionnaire_version": 1,
            "answers": answers_scoring(INDIVIDUAL, 30),
        }
        assessed = http.post(f"/api/v1/customers/{cid}/risk-assessments", json=body, headers=auth("staff"))
        assert assessed.status_code == 201, assessed.text

        # Eleven months and ten days later, as far as the assessment is concerned: it expires in 20 days.
        expires_at = datetime.now(UTC) + timedelta(days=20)
        engine = create_engine(profile_db)
        with engine.begin() as conn:
            conn.execute(update(RiskAssessment).values(expires_at=expires_at))  # type: ignore[arg-type]
        engine.dispose()
        run = subprocess.run(
            [str(BIN / "python"), "-m", "services.profile.tools.jobs", "run", "care_reminders", "--force"],
            cwd=ROOT,
            env=base_env(PROFILE_DATABASE_URL=profile_db, PROFILE_ENVIRONMENT="test", PROFILE_LOG_LEVEL="WARNING"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stdout + run.stderr

        manager = auth("staff", sub="rm-e2e", branch="CR0001")

        def queue_items():
            answer = http.get("/api/v1/work-queue", headers=manager)
            assert answer.status_code == 200, answer.text
            return [i for i in answer.json()["items"] if i["kind"] == "care_task"], answer.json()

        tasks = _until(lambda: queue_items()[0], 90)
        [task] = tasks
        assert (task["summary"], task["customer_id"], task["service"]) == ("risk_expiry", cid, "loyalty")
        due = datetime.fromisoformat(task["due_at"])
        assert timedelta(days=19) < due - datetime.now(UTC) < timedelta(days=21)
        assert queue_items()[1]["partial"] == []  # every source answered
        assert (
            http.get("/api/v1/work-queue", headers=auth("staff", sub="someone-else", branch="CR0001")).json()["items"]
            == []
        )

        me = auth("customer", sub=cid)
        inbox = _until(lambda: http.get("/api/v1/loyalty/notifications", headers=me).json()["items"], 90)
        assert [(n["kind"], n["is_read"]) for n in inbox] == [("risk_expiry", False)]
        assert expires_at.astimezone().date().isoformat()[:4] in inbox[0]["body"]
        read = http.post(f"/api/v1/loyalty/notifications/{inbox[0]['id']}/read", headers=me)
        assert read.status_code == 200 and read.json()["is_read"]
        assert http.get("/api/v1/loyalty/notifications", headers=auth("staff")).status_code == 403
