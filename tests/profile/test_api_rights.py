"""Personal-data rights: the export holds everything the profile keeps about a customer; erasure
leaves no personal value in any row (read directly), keeps retained records, and emits customer.erased."""

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from services.profile.models import metadata
from services.profile.service.customers import ID_FIELD, PHONE_FIELD
from tests.profile import factories as f
from tests.profile.test_api_risk import answers_scoring

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
INDIVIDUAL_Q = {"questionnaire_id": "individual", "questionnaire_version": 1}
ADDRESS = "上海市浦东新区世纪大道100号"


@pytest.fixture(autouse=True)
def fixed_clock(profile_app):
    profile_app.state.clock = lambda: NOW


@pytest.fixture
def full_customer(client, auth):
    """A customer with something in every aggregate; returns (customer, registration body)."""
    from services.profile.service.questionnaires import INDIVIDUAL

    body = f.individual(name="张三丰", email="zhang.sf@example.cn")
    staff = auth("staff")
    resp = client.post("/v1/customers", json=body, headers={**staff, "Idempotency-Key": f"reg-{uuid.uuid4()}"})
    c = resp.json()
    cid = c["id"]
    client.patch(f"/v1/customers/{cid}", json={"city": "上海"}, headers={**staff, "If-Match": '"1"'})
    for kind, value in (("mobile", "13700001111"), ("email", "zsf.private@example.cn"), ("postal_address", ADDRESS)):
        assert (
            client.post(f"/v1/customers/{cid}/contacts", json={"kind": kind, "value": value}, headers=staff).status_code
            == 201
        )
    consent = {"channel": "sms", "status": "granted", "given_via": "counter", "policy_version": "2026.1"}
    client.post(f"/v1/customers/{cid}/consents", json=consent, headers=staff)
    client.put(
        f"/v1/customers/{cid}/do-not-contact", json={"do_not_contact": False, "reason": "cleared"}, headers=staff
    )
    client.post(
        f"/v1/customers/{cid}/risk-assessments",
        json={**INDIVIDUAL_Q, "answers": answers_scoring(INDIVIDUAL, 30)},
        headers=staff,
    )
    client.post(
        f"/v1/customers/{cid}/agreements",
        json={"agreement_type": "basic_account", "version": "1", "channel": "counter"},
        headers=staff,
    )
    client.post(
        f"/v1/customers/{cid}/interactions",
        json={"channel": "visit", "direction": "outbound", "topic": "张三丰 家访", "summary": f"Visited at {ADDRESS}"},
        headers=staff,
    )
    f.ingest(client, auth("system"), [f.txn(cid), f.txn(cid, kind="withdrawal", amount="20.00")])
    client.put(f"/v1/customers/{cid}/assets/2026-11-27", json={"aum": "5000.00"}, headers=auth("system"))
    needs = {"purpose": "retirement", "horizon": "long", "liquidity_need": "low"}
    assert client.put(f"/v1/customers/{cid}/needs", json=needs, headers=auth("staff")).status_code == 201
    holding = {"product_code": "DEP3Y", "category": "deposit", "opened_on": "2025-06-01"}
    assert client.put(f"/v1/customers/{cid}/holdings/CT-1", json=holding, headers=auth("system")).status_code == 201
    manager = {"manager_id": "rm-001", "manager_branch_code": "BR0001"}
    assert client.put(f"/v1/customers/{cid}/manager", json=manager, headers=auth("supervisor")).status_code in (
        200,
        201,
    )
    client.get(f"/v1/customers/{cid}/personal-data", params={"reason": "verification"}, headers=auth("supervisor"))
    return c, body


def test_export_holds_everything_about_the_customer(client, auth, full_customer):
    c, body = full_customer
    resp = client.get(f"/v1/customers/{c['id']}/export", headers=auth("customer", sub=c["id"]))
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    doc = resp.json()
    assert doc["customer"]["id_number"] == body["resident_id"] and doc["customer"]["phone"] == body["phone"]
    assert doc["customer"]["email"] == body["email"] and doc["customer"]["city"] == "上海"
    assert sorted(x["value"] for x in doc["contacts"]) == sorted(["13700001111", "zsf.private@example.cn", ADDRESS])
    counts = {k: len(v) for k, v in doc.items() if isinstance(v, list)}
    assert counts == {
        "contacts": 3,
        "consents": 1,
        "do_not_contact": 1,
        "risk_assessments": 1,
        "agreements": 1,
        "interactions": 1,
        "transactions": 2,
        "asset_snapshots": 1,
        "holdings": 1,
        "care_reminders": 0,
        "migration_imports": 0,
        "access_log": 2,  # the supervisor's read, and this export (logged before it was assembled)
        "erasure_requests": 0,
    }
    assert [e["action"] for e in doc["access_log"]] == ["personal_data.read", "personal_data.exported"]
    assert doc["needs"]["purpose"] == "retirement"
    assert doc["relationship_manager"]["manager_id"] == "rm-001"


def test_export_covers_every_table_that_names_the_customer():
    """A new per-customer table must be added to the export (and to erasure's review)."""
    per_customer = {t.name for t in metadata.sorted_tables if "customer_id" in t.c}
    exported = {
        "contact_point",
        "consent_record",
        "do_not_contact_record",
        "risk_assessment",
        "agreement",
        "interaction",
        "transaction_record",
        "asset_snapshot",
        "customer_needs",
        "holding",
        "relationship_manager",
        "care_reminder",
        "customer_import",
        "audit_entry",
        "erasure_request",
    }
    assert per_customer == exported


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_export_by_supervisor_role(client, auth, full_customer, role):
    c, _ = full_customer
    assert client.get(f"/v1/customers/{c['id']}/export", headers=auth(role)).status_code == 200


def test_export_errors(client, auth, full_customer):
    c, _ = full_customer
    other = f.register(client, auth("staff"))
    assert client.get(f"/v1/customers/{other['id']}/export", headers=auth("customer", sub=c["id"])).status_code == 404
    assert client.get(f"/v1/customers/{uuid.uuid4()}/export", headers=auth("admin")).status_code == 404
    for role in ("staff", "system"):
        assert client.get(f"/v1/customers/{c['id']}/export", headers=auth(role)).status_code == 403
    assert client.get(f"/v1/customers/{c['id']}/export").status_code == 401
    assert client.get("/v1/customers/x/export", headers=auth("admin")).status_code == 422


def _all_rows_text(profile_db) -> str:
    with profile_db.read() as s:
        return "\n".join(str(list(map(str, row))) for t in metadata.sorted_tables for row in s.execute(select(t)))


def test_erasure_leaves_no_personal_value_in_any_row(client, auth, full_customer, profile_db, profile_app):
    c, body = full_customer
    vault = profile_app.state.privacy.vault
    before = _all_rows_text(profile_db)
    secrets = [
        body["name"],
        body["resident_id"],
        body["phone"],
        body["email"],
        "13700001111",
        "zsf.private@example.cn",
        ADDRESS,
        vault.lookup_hash(body["resident_id"], ID_FIELD),
        vault.lookup_hash(body["phone"], PHONE_FIELD),
    ]
    assert body["name"] in before and vault.lookup_hash(body["phone"], PHONE_FIELD) in before  # the scan can see them
    status, req = f.erase(
        client, auth, c["id"], {"reason": "PIPL art. 47 request at counter", "requested_via": "counter"}, sub="sup-7"
    )
    assert status == 201
    assert req["requested_by_sub"] == "sup-7" and "customer.id_number" in req["erased_fields"]
    assert any("transaction_record" in r["records"] for r in req["retained"])
    after = _all_rows_text(profile_db)
    for value in secrets:
        assert value not in after
    # The encrypted columns now decrypt to nothing personal.
    with profile_db.read() as s:
        row = s.execute(
            select(metadata.tables["customer"]).where(metadata.tables["customer"].c.id == uuid.UUID(c["id"]))
        ).one()
    assert vault.decrypt(row.id_number_enc, ID_FIELD) == "" and vault.decrypt(row.phone_enc, PHONE_FIELD) == ""
    assert row.email_enc is None and row.name == f"ERASED-{c['customer_no']}" and row.status == "closed"


def test_erasure_keeps_retained_records_and_emits_customer_erased(client, auth, full_customer):
    c, body = full_customer
    client.post(
        f"/v1/customers/{c['id']}/erasure-requests",
        json={"reason": "customer asked in the app", "requested_via": "mobile"},
        headers=auth("customer", sub=c["id"]),
    )
    staff = auth("staff")
    txns = client.get("/v1/transactions", params={"customer_id": c["id"]}, headers=staff).json()["items"]
    assert len(txns) == 2
    assert (
        len(client.get(f"/v1/customers/{c['id']}/agreements", params={"status": "all"}, headers=staff).json()["items"])
        == 1
    )
    read = client.get(f"/v1/customers/{c['id']}", headers=staff).json()
    assert (
        read["name"].startswith("ERASED-") and read["id_number"] == "" and read["phone"] == "" and read["email"] is None
    )
    assert client.get(f"/v1/customers/{c['id']}/contacts", headers=staff).json()["items"] == []
    found = client.get("/v1/customers", params={"phone": body["phone"]}, headers=staff).json()["items"]
    assert found == []
    events = client.get("/v1/events", params={"limit": 1000}, headers=auth("system")).json()["items"]
    erased = [e for e in events if e["type"] == "customer.erased"]
    assert len(erased) == 1 and erased[0]["subject_id"] == c["id"]
    assert erased[0]["data"] == {"customer_no": c["customer_no"], "erased_at": "2026-11-28T12:00:00Z"}
    listed = client.get(f"/v1/customers/{c['id']}/erasure-requests", headers=auth("admin")).json()["items"]
    assert [(r["requested_by_role"], r["requested_via"]) for r in listed] == [("customer", "mobile")]


def test_erased_customer_can_register_again_with_the_same_identity(client, auth, full_customer):
    c, body = full_customer
    assert f.erase(client, auth, c["id"], {"reason": "request", "requested_via": "letter"}, role="admin")[0] == 201
    fresh = {**body, "phone": f.mobile()}
    assert client.post("/v1/customers", json=fresh, headers=auth("staff")).status_code == 201


def test_second_erasure_is_409_and_erased_customer_cannot_change(client, auth, full_customer):
    c, _ = full_customer
    url = f"/v1/customers/{c['id']}/erasure-requests"
    body = {"reason": "request", "requested_via": "counter"}
    assert f.erase(client, auth, c["id"], body, role="admin")[0] == 201
    again = client.post(url, json=body, headers=auth("admin"))
    assert again.status_code == 409 and again.json()["code"] == "customer_erased"
    log = client.post(
        f"/v1/customers/{c['id']}/interactions",
        json={"channel": "phone", "direction": "inbound", "topic": "t", "summary": "s"},
        headers=auth("staff"),
    )
    assert log.status_code == 409 and log.json()["code"] == "customer_erased"
    consent = {"channel": "sms", "status": "granted", "given_via": "counter", "policy_version": "1"}
    assert client.post(f"/v1/customers/{c['id']}/consents", json=consent, headers=auth("staff")).status_code == 409


def test_erasure_errors(client, auth, full_customer):
    c, _ = full_customer
    other = f.register(client, auth("staff"))
    url = f"/v1/customers/{c['id']}/erasure-requests"
    good = {"reason": "request", "requested_via": "counter"}
    for role in ("staff", "system"):
        assert client.post(url, json=good, headers=auth(role)).status_code == 403
        assert client.get(url, headers=auth(role)).status_code == 403
    assert client.post(url, json=good, headers=auth("customer", sub=other["id"])).status_code == 404
    assert (
        client.post(f"/v1/customers/{uuid.uuid4()}/erasure-requests", json=good, headers=auth("admin")).status_code
        == 404
    )
    assert client.get(f"/v1/customers/{uuid.uuid4()}/erasure-requests", headers=auth("admin")).status_code == 404
    assert client.post(url, json=good).status_code == 401 and client.get(url).status_code == 401
    for bad, field in (
        ({"reason": "r", "requested_via": "pigeon"}, "requested_via"),
        ({"requested_via": "counter"}, "reason"),
    ):
        resp = client.post(url, json=bad, headers=auth("admin"))
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", field]


def test_individual_name_change_never_travels_in_events(client, auth):
    c = f.register(client, auth("staff"))
    client.patch(f"/v1/customers/{c['id']}", json={"name": "李秘密"}, headers={**auth("staff"), "If-Match": '"1"'})
    events = client.get("/v1/events", headers=auth("system")).json()["items"]
    assert events[-1]["data"]["changed"] == ["name"] and "李秘密" not in str(events)


def test_erasure_scrubs_a_contact_persons_name_from_past_events(client, auth):
    org = f.register(client, auth("staff"), f.enterprise(contact_name="赵联系"))
    resp = client.patch(
        f"/v1/customers/{org['id']}", json={"contact_name": "钱新人"}, headers={**auth("staff"), "If-Match": '"1"'}
    )
    assert resp.status_code == 200
    feed = lambda: client.get("/v1/events", headers=auth("system")).json()["items"]  # noqa: E731
    assert "钱新人" in str(feed())
    body = {"reason": "request", "requested_via": "letter"}
    assert f.erase(client, auth, org["id"], body, role="admin")[0] == 201
    events = feed()
    assert "钱新人" not in str(events) and "赵联系" not in str(events)
    assert [e["data"]["changed"] for e in events if e["type"] == "customer.updated"] == [["contact_name"]]
