"""Free text is personal data: complaint descriptions, step notes and the text in step data, survey
answers and follow-up notes are encrypted at rest (no database file or text column holds the words),
read back with the ID numbers, phones, cards and emails inside masked, and in full only by a reveal
role stating a purpose, each reveal on the access log and the audit chain. Search keeps working on
the plain columns: codes, state, branch, dates."""

import uuid

import pytest
from sqlalchemy import select

from services.feedback.models import audit_chain, personal_data_access
from tests.dbkit import stored_in_clear
from tests.feedback import factories as f

MARK = "柜员小窗口排队离谱"  # words no other test writes, to look for in the files
ID_NUMBER = "11010519491231002X"
TYPED = f"{MARK}，身份证{ID_NUMBER}，手机138 0013-8000，卡号6222021234567890123，邮箱wang@example.com，座机010-62345678"
MASKED = {
    ID_NUMBER: "110105********002X",
    "138 0013-8000": "138****8000",
    "6222021234567890123": "622202*********0123",
    "wang@example.com": "[redacted-email]",
    "010-62345678": "010-*****78",
}


def _assert_masked(value: str) -> None:
    assert MARK in value  # the words stay
    for full, masked in MASKED.items():
        assert full not in value and masked in value, value


def _filed_with_text(client, staff) -> dict:
    c = f.file(client, staff, f.complaint(description=TYPED))
    f.step(client, staff, c["id"], "note", note=f"回访：{TYPED}")
    f.to_investigating(client, staff, c["id"])
    return f.step(client, staff, c["id"], "decide", **f.decision(facts_verified=TYPED))


def test_free_text_is_in_no_database_file_or_column_before_any_erasure(client, auth, feedback_db):
    staff = auth("staff")
    decided = _filed_with_text(client, staff)
    survey = f.published_survey(client, staff)
    answered = f.answer(client, auth("customer", sub=f.known_customer(client)), survey["id"], nps=2, comment=TYPED)
    _assert_masked(answered["answers"]["comment"])
    done = client.post(
        f"/v1/follow-ups/{answered['follow_up_id']}/outcome",
        json={"outcome": "reached_resolved", "note": TYPED},
        headers=staff,
    )
    assert done.status_code == 200, done.text
    _assert_masked(done.json()["note"])
    retry, body = {"Idempotency-Key": f"k-{uuid.uuid4()}", **staff}, f.complaint(description=TYPED)
    assert client.post("/v1/complaints", json=body, headers=retry).status_code == 201
    again = client.post("/v1/complaints", json=body, headers=retry)
    assert again.status_code in (200, 201) and MARK in again.json()["description"]  # the stored answer, sealed
    assert decided["state"] == "decided"
    assert stored_in_clear(feedback_db, MARK) == []


def test_staff_read_free_text_with_the_values_inside_masked(client, auth):
    staff = auth("staff")
    cid = _filed_with_text(client, staff)["id"]
    for headers in (staff, auth("supervisor"), auth("admin")):
        read = client.get(f"/v1/complaints/{cid}", headers=headers)
        assert read.status_code == 200
        body = read.json()
        _assert_masked(body["description"])
        _assert_masked(next(s for s in body["steps"] if s["action"] == "note")["note"])
        _assert_masked(body["decision"]["facts_verified"])
    follow_ups = client.get("/v1/follow-ups", headers=staff)
    assert follow_ups.status_code == 200


def test_a_customer_reads_its_own_complaint_masked(client, auth):
    customer_id = str(uuid.uuid4())
    me = auth("customer", sub=customer_id)
    c = f.file(client, me, f.complaint(customer_id=customer_id, description=TYPED))
    _assert_masked(c["description"])
    read = client.get(f"/v1/complaints/{c['id']}", headers=me)
    assert read.status_code == 200
    _assert_masked(read.json()["description"])
    refused = client.get(f"/v1/complaints/{c['id']}?reveal=true&purpose=customer_service", headers=me)
    assert refused.status_code == 403 and refused.json()["code"] == "reveal_forbidden"


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_a_reveal_role_reads_the_full_text_and_the_read_is_logged(client, auth, feedback_db, role):
    staff = auth("staff")
    c = f.file(client, staff, f.complaint(description=TYPED))
    f.step(client, staff, c["id"], "note", note=f"回访：{TYPED}")
    read = client.get(f"/v1/complaints/{c['id']}?reveal=true&purpose=compliance", headers=auth(role, sub="boss-1"))
    assert read.status_code == 200
    body = read.json()
    assert body["description"] == TYPED
    assert next(s for s in body["steps"] if s["action"] == "note")["note"] == f"回访：{TYPED}"
    with feedback_db.read() as s:
        rows = s.execute(select(personal_data_access).where(personal_data_access.c.what == f"complaint:{c['id']}"))
        (row,) = rows.mappings().all()
        chained = s.execute(select(audit_chain.c.action).where(audit_chain.c.action == "personal_data.revealed"))
        assert chained.first() is not None
    assert (row["action"], row["purpose"], row["actor_sub"], row["actor_role"], row["persons"]) == (
        "personal_data.revealed",
        "compliance",
        "boss-1",
        role,
        1,
    )
    assert row["customer_id"] == c["customer_id"]


def test_staff_may_not_reveal(client, auth):
    staff = auth("staff")
    c = f.file(client, staff, f.complaint(description=TYPED))
    refused = client.get(f"/v1/complaints/{c['id']}?reveal=true&purpose=compliance", headers=staff)
    assert refused.status_code == 403 and refused.json()["code"] == "reveal_forbidden"


def test_a_reveal_needs_a_known_purpose(client, auth):
    supervisor = auth("supervisor")
    c = f.file(client, supervisor, f.complaint(description=TYPED))
    for query in ("reveal=true", "reveal=true&purpose=curiosity"):
        bad = client.get(f"/v1/complaints/{c['id']}?{query}", headers=supervisor)
        assert bad.status_code == 422, bad.text
        assert bad.json()["errors"][0]["loc"][-1] == "purpose"


def test_a_reveal_of_an_unknown_complaint_is_404(client, auth):
    missing = client.get(f"/v1/complaints/{uuid.uuid4()}?reveal=true&purpose=compliance", headers=auth("supervisor"))
    assert missing.status_code == 404 and missing.json()["code"] == "complaint_not_found"


def test_an_erased_description_reads_as_erased_and_the_sweep_skips_it(client, auth, feedback_app, feedback_db):
    from services.feedback.service.erasure import erase_customer

    staff = auth("staff")
    c = f.file(client, staff, f.complaint(description=TYPED))
    with feedback_db.write() as s:
        erase_customer(s, c["customer_id"])
        s.commit()
    read = client.get(f"/v1/complaints/{c['id']}?reveal=true&purpose=compliance", headers=auth("supervisor"))
    assert read.json()["description"] == "[erased]"


def test_search_by_codes_state_branch_and_dates_still_works(client, auth, clock):
    staff = auth("staff")
    first = f.file(client, staff, f.complaint(description=TYPED, branch_code="BJ0001", cause="service_attitude"))
    clock.advance(days=3)
    second = f.file(
        client,
        staff,
        f.complaint(description=TYPED, branch_code="SH0001", channel="phone_hotline", cause="pricing_fees"),
    )
    f.step(client, staff, second["id"], "acknowledge")

    def ids(query: str) -> list[str]:
        resp = client.get(f"/v1/complaints?{query}", headers=staff)
        assert resp.status_code == 200, resp.text
        return [c["id"] for c in resp.json()["items"]]

    assert ids("branch_code=BJ0001") == [first["id"]]
    assert ids("state=acknowledged") == [second["id"]]
    assert ids("cause=pricing_fees") == [second["id"]]
    assert ids("channel=phone_hotline") == [second["id"]]
    assert ids("business_type=savings") == [second["id"], first["id"]]
    assert ids(f"to={second['received_at'].replace('+00:00', 'Z')}") == [first["id"]]
    assert ids(f"from={second['received_at'].replace('+00:00', 'Z')}") == [second["id"]]
    assert client.get("/v1/complaints?from=2026-03-02T00:00:00", headers=staff).status_code == 422
