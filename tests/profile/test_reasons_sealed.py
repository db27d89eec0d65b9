"""The reasons staff type about a customer are personal data (PIPL): an agreement's revocation, a
do-not-contact flag, the access log's reason for a reveal, an erasure request and the reasons in
approval requests are encrypted at rest (no database file or text column holds them), read back with
the values inside masked, and in full in the person's own export."""

import pytest

from services.common.audit_chain import verify
from services.profile.models import ACCESS_LOG, audit_chain
from tests.dbkit import stored_in_clear
from tests.profile import factories as f

MARK = "柜台登记撤销原因甲乙"  # words no other test writes, to look for in the files
PHONE = "13800138000"
TYPED = f"{MARK}，客户手机{PHONE}"
MASKED = f"{MARK}，客户手机138****8000"


@pytest.fixture
def typed(client, auth):
    """A customer with a reason typed in each place profile keeps one (and the answers that showed them)."""
    staff, cid = auth("staff"), f.register(client, auth("staff"))["id"]
    shown: dict[str, str] = {}
    body = {"agreement_type": "e_banking", "version": "2026.1", "channel": "counter"}
    agreement = client.post(f"/v1/customers/{cid}/agreements", json=body, headers=staff).json()
    url = f"/v1/customers/{cid}/agreements/{agreement['id']}/revoke"
    shown["revoke"] = client.post(url, json={"reason": TYPED}, headers=staff).json()["revoke_reason"]
    flag = {"do_not_contact": True, "reason": TYPED}
    assert client.put(f"/v1/customers/{cid}/do-not-contact", json=flag, headers=staff).status_code == 200
    reveal = client.get(f"/v1/customers/{cid}/personal-data", params={"reason": TYPED}, headers=auth("supervisor"))
    assert reveal.status_code == 200, reveal.text
    log = client.get(f"/v1/customers/{cid}/access-log", headers=auth("supervisor")).json()["items"]
    shown["access"] = next(e["reason"] for e in log if e["action"] == "personal_data.read")
    return cid, shown


def test_typed_reasons_are_sealed_at_rest_and_shown_masked(client, auth, profile_app, typed):
    cid, shown = typed
    assert shown == {"revoke": MASKED, "access": MASKED}
    assert stored_in_clear(profile_app.state.db, MARK) == []
    assert stored_in_clear(profile_app.state.db, PHONE) == []


def test_the_persons_export_holds_the_reasons_in_full(client, auth, typed):
    cid, _ = typed
    export = client.get(f"/v1/customers/{cid}/export", headers=auth("customer", sub=cid)).json()
    assert export["agreements"][0]["revoke_reason"] == TYPED
    assert [r["reason"] for r in export["do_not_contact"]] == [TYPED]
    assert TYPED in [e["reason"] for e in export["access_log"]]


def test_an_erasure_reason_is_sealed_and_shown_masked(client, auth, profile_app):
    cid = f.register(client, auth("staff"))["id"]
    asked = client.post(
        f"/v1/customers/{cid}/erasure-requests",
        json={"reason": TYPED, "requested_via": "counter"},
        headers=auth("supervisor", sub="sup-1"),
    )
    assert asked.status_code == 202 and asked.json()["payload"]["reason"] == MASKED
    assert stored_in_clear(profile_app.state.db, MARK) == []  # the pending request's reason is sealed
    done = client.post(f"/v1/customers/approvals/{asked.json()['id']}/approve", headers=auth("admin", sub="chk-9"))
    assert done.status_code == 200, done.text
    assert done.json()["payload"]["reason"] == "[erased]"  # the request is about the erased person
    listed = client.get(f"/v1/customers/{cid}/erasure-requests", headers=auth("supervisor")).json()["items"]
    assert [r["reason"] for r in listed] == [MASKED]  # the erasure's own record keeps it, sealed
    assert stored_in_clear(profile_app.state.db, MARK) == []
    with profile_app.state.db.read() as s:  # sealing and erasing touch no record of the chain
        assert verify(s, audit_chain, [ACCESS_LOG]).intact
