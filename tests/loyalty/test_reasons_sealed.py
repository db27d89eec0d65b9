"""The reasons typed on the points ledger and in approval requests are personal data: sealed at rest (no
database file or text column holds them), shown with the values inside masked, in full in the
person's own export; erasure leaves ERASED in the requests about the person."""

from tests.dbkit import stored_in_clear
from tests.loyalty import factories as f

MARK = "网点补录积分原因丙丁"  # words no other test writes, to look for in the files
PHONE = "13800138000"
TYPED = f"{MARK}，客户手机{PHONE}"
MASKED = f"{MARK}，客户手机138****8000"


def _adjust(client, auth, cid, points):
    body = {"points": points, "reason": TYPED}
    return client.post(f"/v1/loyalty/accounts/{cid}/adjustments", json=body, headers=auth("staff", sub="clerk-1"))


def test_ledger_and_approval_reasons_are_sealed_and_shown_masked(client, auth, loyalty_app):
    cid = f.enrol(client, auth)
    posted = _adjust(client, auth, cid, 50)
    assert posted.status_code == 201 and posted.json()["reason"] == MASKED
    pending = _adjust(client, auth, cid, 2000)
    assert pending.status_code == 202 and pending.json()["payload"]["reason"] == MASKED
    url = f"/v1/loyalty/approvals/{pending.json()['id']}/reject"
    rejected = client.post(url, json={"reason": TYPED}, headers=auth("supervisor"))
    assert rejected.status_code == 200 and rejected.json()["note"] == MASKED
    statement = client.get(f"/v1/loyalty/accounts/{cid}/statement", headers=auth("staff")).json()["items"]
    assert [e["reason"] for e in statement] == [MASKED]
    queue = client.get("/v1/loyalty/approvals", params={"status": "all"}, headers=auth("supervisor")).json()
    assert [(a["payload"]["reason"], a["note"]) for a in queue["items"]] == [(MASKED, MASKED)]
    assert stored_in_clear(loyalty_app.state.db, MARK) == []
    assert stored_in_clear(loyalty_app.state.db, PHONE) == []
    export = client.get(f"/v1/personal-data/{cid}", headers=auth("customer", sub=cid)).json()
    assert [e["reason"] for e in export["data"]["ledger"]] == [TYPED]


def test_an_approved_adjustment_posts_the_reason_as_typed(client, auth):
    cid = f.enrol(client, auth)
    pid = _adjust(client, auth, cid, 2000).json()["id"]
    done = client.post(f"/v1/loyalty/approvals/{pid}/approve", headers=auth("supervisor"))
    assert done.status_code == 200, done.text
    export = client.get(f"/v1/personal-data/{cid}", headers=auth("customer", sub=cid)).json()
    assert [e["reason"] for e in export["data"]["ledger"]] == [TYPED]


def test_erasure_leaves_erased_in_the_requests_and_no_ledger_reason(client, auth, loyalty_app):
    cid = f.enrol(client, auth)
    _adjust(client, auth, cid, 50)
    pid = _adjust(client, auth, cid, 2000).json()["id"]
    client.post(f"/v1/loyalty/approvals/{pid}/reject", json={"reason": TYPED}, headers=auth("supervisor"))
    f.consumer(loyalty_app).apply([f.event("customer.erased", cid, {"customer_no": "100000000016"})])
    read = client.get(f"/v1/loyalty/approvals/{pid}", headers=auth("staff")).json()
    assert (read["payload"]["reason"], read["note"], read["payload"]["points"]) == ("[erased]", "[erased]", 2000)
    statement = client.get(f"/v1/loyalty/accounts/{cid}/statement", headers=auth("staff")).json()["items"]
    assert [e["reason"] for e in statement] == [None]
