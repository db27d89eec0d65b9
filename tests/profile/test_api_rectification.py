"""Rectification (PIPL art. 46): a customer corrects their own name and contact data with their own
token; identity documents change only by staff, with a reason. Every correction is on the access log
and on the feed."""

import uuid

import pytest

from tests.profile import factories as f


def _events(client, auth):
    return client.get("/v1/events", params={"after": 0}, headers=auth("system")).json()["items"]


def _access_log(client, auth, cid):
    return client.get(f"/v1/customers/{cid}/access-log", headers=auth("supervisor")).json()["items"]


def test_a_customer_corrects_their_own_name_and_phone(client, auth):
    c = f.register(client, auth("staff"))
    me = auth("customer", sub=c["id"])
    body = {"name": "李晓红", "phone": f.mobile()}
    resp = client.patch(f"/v1/customers/{c['id']}", json=body, headers={**me, "If-Match": '"1"'})
    assert resp.status_code == 200, resp.text
    assert resp.json()["name"] == "李晓红" and resp.json()["version"] == 2
    last = _events(client, auth)[-1]
    assert last["type"] == "customer.updated" and last["data"]["changed"] == ["name", "phone"]
    assert "李晓红" not in str(last)  # a person's name never travels
    [entry] = _access_log(client, auth, c["id"])
    assert (entry["action"], entry["actor_role"], entry["fields"]) == (
        "personal_data.rectified",
        "customer",
        "name,phone",
    )
    assert "PIPL" in entry["reason"]


def test_a_staff_change_of_personal_fields_is_on_the_access_log_too(client, auth):
    c = f.register(client, auth("staff"))
    resp = client.patch(
        f"/v1/customers/{c['id']}",
        json={"email": "li.x@example.cn", "city": "天津"},
        headers={**auth("staff"), "If-Match": '"1"'},
    )
    assert resp.status_code == 200, resp.text
    [entry] = _access_log(client, auth, c["id"])
    assert (entry["actor_role"], entry["fields"], entry["reason"]) == ("staff", "email", "staff update")


def test_a_customer_may_not_change_what_the_branch_keeps(client, auth):
    c = f.register(client, auth("staff"))
    resp = client.patch(
        f"/v1/customers/{c['id']}",
        json={"name": "李晓红", "branch_code": "TJ0001", "city": "天津"},
        headers={**auth("customer", sub=c["id"]), "If-Match": '"1"'},
    )
    assert resp.status_code == 422
    assert resp.json()["code"] == "validation_failed"
    assert [e["loc"] for e in resp.json()["errors"]] == [["body", "branch_code"], ["body", "city"]]
    assert client.get(f"/v1/customers/{c['id']}", headers=auth("staff")).json()["version"] == 1  # nothing written


def test_a_customer_may_not_correct_another_customer(client, auth):
    c = f.register(client, auth("staff"))
    resp = client.patch(
        f"/v1/customers/{c['id']}",
        json={"name": "李晓红"},
        headers={**auth("customer", sub=str(uuid.uuid4())), "If-Match": '"1"'},
    )
    assert resp.status_code == 404 and resp.json()["code"] == "customer_not_found"


def test_update_as_system_is_forbidden(client, auth):
    c = f.register(client, auth("staff"))
    resp = client.patch(
        f"/v1/customers/{c['id']}", json={"name": "李晓红"}, headers={**auth("system"), "If-Match": '"1"'}
    )
    assert resp.status_code == 403


V1 = {"If-Match": '"1"'}


def _correction(number: str | None = None, **doc) -> dict:
    document = {"type": "resident_id", "number": number or f.resident_id(), **doc}
    return {"id_document": document, "reason": "registered with a mistyped number; checked against the card"}


@pytest.mark.parametrize("role", ["staff", "supervisor", "admin"])
def test_staff_correct_an_identity_document_with_a_reason(client, auth, role):
    c = f.register(client, auth("staff"))
    number = f.resident_id()
    resp = client.post(
        f"/v1/customers/{c['id']}/identity-corrections", json=_correction(number), headers={**auth(role), **V1}
    )
    assert resp.status_code == 200, resp.text
    got = resp.json()
    assert got["id_number"] == number[:6] + "********" + number[-4:] and got["version"] == 2
    assert resp.headers["etag"] == '"2"'
    found = client.get("/v1/customers", params={"id_number": number}, headers=auth("staff")).json()["items"]
    assert [x["id"] for x in found] == [c["id"]]
    last = _events(client, auth)[-1]
    assert last["data"]["changed"] == ["id_number"] and number not in str(last)
    [entry] = _access_log(client, auth, c["id"])
    assert (entry["action"], entry["actor_role"], entry["fields"]) == ("identity.corrected", role, "id_document")
    assert entry["reason"].startswith("registered with a mistyped number")


def test_a_corrected_document_held_by_another_customer_is_409(client, auth):
    first = f.individual()
    f.register(client, auth("staff"), first)
    c = f.register(client, auth("staff"))
    resp = client.post(
        f"/v1/customers/{c['id']}/identity-corrections",
        json=_correction(first["resident_id"]),
        headers={**auth("staff"), **V1},
    )
    assert resp.status_code == 409 and resp.json()["code"] == "customer_duplicate"


def test_identity_corrections_refuse_what_does_not_fit(client, auth):
    c = f.register(client, auth("staff"))
    org = f.register(client, auth("staff"), f.enterprise())
    url = f"/v1/customers/{c['id']}/identity-corrections"
    passport = _correction(f.passport_number(), type="passport")
    passport_without_state = client.post(url, json=passport, headers={**auth("staff"), **V1})
    assert passport_without_state.status_code == 422
    no_reason = {"id_document": {"type": "resident_id", "number": f.resident_id()}}
    assert client.post(url, json=no_reason, headers={**auth("staff"), **V1}).status_code == 422
    resp = client.post(
        f"/v1/customers/{org['id']}/identity-corrections", json=_correction(), headers={**auth("staff"), **V1}
    )
    assert resp.status_code == 422 and resp.json()["errors"][0]["type"] == "not_for_type"
    stale = client.post(url, json=_correction(), headers={**auth("staff"), "If-Match": '"7"'})
    assert stale.status_code == 412
    unversioned = client.post(url, json=_correction(), headers=auth("staff"))
    assert unversioned.status_code == 428
    missing = client.post(
        f"/v1/customers/{uuid.uuid4()}/identity-corrections", json=_correction(), headers={**auth("staff"), **V1}
    )
    assert missing.status_code == 404


def test_identity_corrections_are_not_the_customers_own(client, auth):
    c = f.register(client, auth("staff"))
    url = f"/v1/customers/{c['id']}/identity-corrections"
    assert client.post(url, json=_correction(), headers=auth("customer", sub=c["id"])).status_code == 403
    assert client.post(url, json=_correction(), headers=auth("system")).status_code == 403
    assert client.post(url, json=_correction()).status_code == 401
