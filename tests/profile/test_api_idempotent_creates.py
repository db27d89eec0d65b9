"""Creates a bank system may retry honour Idempotency-Key: the same key and body replay the first
answer without a second record; the same key with another body is 409."""

from datetime import UTC, datetime

import pytest

from services.profile.service.questionnaires import INDIVIDUAL
from tests.profile import factories as f
from tests.profile.test_api_risk import answers_scoring

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CREATES = {
    "agreements": (
        {"agreement_type": "e_banking", "version": "1", "channel": "counter"},
        {"agreement_type": "e_banking", "version": "2", "channel": "counter"},
        "agreements?status=all",
    ),
    "consents": (
        {"channel": "sms", "status": "granted", "given_via": "counter", "policy_version": "1"},
        {"channel": "sms", "status": "withdrawn", "given_via": "counter", "policy_version": "1"},
        "consents/history",
    ),
    "risk-assessments": (
        {"questionnaire_id": "individual", "questionnaire_version": 1, "answers": answers_scoring(INDIVIDUAL, 20)},
        {"questionnaire_id": "individual", "questionnaire_version": 1, "answers": answers_scoring(INDIVIDUAL, 40)},
        "risk-assessments",
    ),
    "interactions": (
        {"channel": "phone", "direction": "inbound", "topic": "t", "summary": "s"},
        {"channel": "phone", "direction": "inbound", "topic": "t", "summary": "other"},
        "interactions",
    ),
}


@pytest.fixture(autouse=True)
def fixed_clock(profile_app):
    profile_app.state.clock = lambda: NOW


@pytest.mark.parametrize("path", sorted(CREATES))
def test_retry_with_same_key_replays_and_other_body_is_409(client, auth, path):
    c = f.register(client, auth("staff"))
    body, other, listing = CREATES[path]
    headers = {**auth("staff", sub="core-crm"), "Idempotency-Key": f"retry-{path}"}
    url = f"/v1/customers/{c['id']}/{path}"
    first = client.post(url, json=body, headers=headers)
    again = client.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotency-replayed"] == "true"
    assert len(client.get(f"/v1/customers/{c['id']}/{listing}", headers=auth("staff")).json()["items"]) == 1
    clash = client.post(url, json=other, headers=headers)
    assert clash.status_code == 409 and clash.json()["code"] == "idempotency_key_reused"
    bad = client.post(url, json=body, headers={**headers, "Idempotency-Key": "has space"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
