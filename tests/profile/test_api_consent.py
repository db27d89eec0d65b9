"""Contact points, marketing consent with its history, the do-not-contact override, contactability
and the consent.changed event."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from services.profile.models import ContactPoint
from tests.profile import factories as f

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_clock(profile_app):
    profile_app.state.clock = lambda: NOW


@pytest.fixture
def customer(client, auth):
    # A landline as the registered phone and no email: SMS and email need contact points.
    return f.register(client, auth("staff"), f.individual(phone="010-62345678", email=None))


def _consent(client, headers, cid, channel="sms", status="granted", **kw):
    body = {"channel": channel, "status": status, "given_via": "counter", "policy_version": "2026.1", **kw}
    return client.post(f"/v1/customers/{cid}/consents", json=body, headers=headers)


def _contact(client, headers, cid, kind="mobile", value="13912345678", **kw):
    return client.post(f"/v1/customers/{cid}/contacts", json={"kind": kind, "value": value, **kw}, headers=headers)


def _reach(client, auth, cid):
    resp = client.get(f"/v1/customers/{cid}/contactability", params={"purpose": "marketing"}, headers=auth("staff"))
    assert resp.status_code == 200
    return {c["channel"]: c["reason"] for c in resp.json()["channels"]}, resp.json()["contactable_channels"]


def _consent_events(client, auth):
    items = client.get("/v1/events", headers=auth("system")).json()["items"]
    return [e for e in items if e["type"] == "consent.changed"]


@pytest.mark.parametrize(
    "kind, value, shown",
    [
        ("mobile", "+86 139-1234-5678", "139****5678"),
        ("landline", "021-61234567", "021****4567"),
        ("email", "Li.Si@Example.CN", "L***@example.cn"),
        ("postal_address", "北京市西城区金融大街3号", "北京市西城区****"),
        ("app_push", "ExponentPushToken_abcdef123456", "Expo****"),
    ],
)
def test_add_contact_of_each_kind_is_stored_encrypted_and_shown_masked(
    client, auth, customer, profile_db, kind, value, shown
):
    resp = _contact(client, auth("staff"), customer["id"], kind=kind, value=value)
    assert resp.status_code == 201 and resp.json()["value"] == shown and resp.json()["kind"] == kind
    with profile_db.read() as s:
        stored = s.execute(select(ContactPoint.value_enc)).scalar_one()
    assert value not in stored and "5678" not in stored


def test_one_preferred_contact(client, auth, customer):
    a = _contact(client, auth("staff"), customer["id"], is_preferred=True).json()
    b = _contact(client, auth("staff"), customer["id"], kind="email", value="a@b.cn", is_preferred=True).json()
    items = client.get(f"/v1/customers/{customer['id']}/contacts", headers=auth("staff")).json()["items"]
    assert [(c["id"], c["is_preferred"]) for c in items] == [(b["id"], True), (a["id"], False)]
    resp = client.post(f"/v1/customers/{customer['id']}/contacts/{a['id']}/preferred", headers=auth("staff"))
    assert resp.status_code == 200 and resp.json()["is_preferred"]
    items = client.get(f"/v1/customers/{customer['id']}/contacts", headers=auth("staff")).json()["items"]
    assert [(c["id"], c["is_preferred"]) for c in items] == [(a["id"], True), (b["id"], False)]


def test_remove_contact(client, auth, customer):
    a = _contact(client, auth("staff"), customer["id"]).json()
    url = f"/v1/customers/{customer['id']}/contacts/{a['id']}"
    assert client.delete(url, headers=auth("customer", sub=customer["id"])).status_code == 204
    assert client.get(f"/v1/customers/{customer['id']}/contacts", headers=auth("staff")).json()["items"] == []
    again = client.delete(url, headers=auth("staff"))
    assert again.status_code == 404 and again.json()["code"] == "contact_not_found"
    assert client.post(f"{url}/preferred", headers=auth("staff")).status_code == 404


def test_duplicate_contact_is_409(client, auth, customer):
    _contact(client, auth("staff"), customer["id"], value="13912345678")
    resp = _contact(client, auth("staff"), customer["id"], value="139 1234 5678")
    assert resp.status_code == 409 and resp.json()["code"] == "contact_duplicate"


@pytest.mark.parametrize(
    "kind, value",
    [
        ("mobile", "010-62345678"),
        ("landline", "13912345678"),
        ("mobile", "12345"),
        ("email", "not-an-email"),
        ("postal_address", "abc"),
        ("postal_address", "line one\nline two"),
        ("app_push", "short"),
    ],
)
def test_bad_contact_value_is_422_naming_value(client, auth, customer, kind, value):
    resp = _contact(client, auth("staff"), customer["id"], kind=kind, value=value)
    problem = resp.json()
    assert resp.status_code == 422 and problem["errors"][0]["loc"] == ["body", "value"]
    problem.pop("request_id")  # random hex, which may hold "abc"
    assert value not in json.dumps(problem, ensure_ascii=False)


@pytest.mark.parametrize("body, field", [({"kind": "fax", "value": "x"}, "kind"), ({"kind": "mobile"}, "value")])
def test_bad_contact_body_is_422(client, auth, customer, body, field):
    resp = client.post(f"/v1/customers/{customer['id']}/contacts", json=body, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", field]


def test_consent_history_is_kept_newest_first(client, auth, customer):
    _consent(client, auth("staff"), customer["id"], "sms", "granted", given_via="counter", policy_version="2025.2")
    _consent(client, auth("customer", sub=customer["id"]), customer["id"], "sms", "withdrawn", given_via="app")
    _consent(client, auth("staff"), customer["id"], "email", "granted")
    history = client.get(f"/v1/customers/{customer['id']}/consents/history", headers=auth("staff")).json()["items"]
    assert [(h["channel"], h["status"], h["given_via"]) for h in history] == [
        ("email", "granted", "counter"),
        ("sms", "withdrawn", "app"),
        ("sms", "granted", "counter"),
    ]
    assert history[1]["actor_sub"] == customer["id"] and history[2]["policy_version"] == "2025.2"
    state = client.get(f"/v1/customers/{customer['id']}/consents", headers=auth("staff")).json()
    assert {c["channel"]: c["status"] for c in state["channels"]} == {
        "sms": "withdrawn",
        "phone_call": "none",
        "email": "granted",
        "app_push": "none",
    }
    page = client.get(f"/v1/customers/{customer['id']}/consents/history", params={"limit": 2}, headers=auth("staff"))
    rest = client.get(
        f"/v1/customers/{customer['id']}/consents/history",
        params={"cursor": page.json()["next_cursor"]},
        headers=auth("staff"),
    )
    assert [h["id"] for h in page.json()["items"] + rest.json()["items"]] == [h["id"] for h in history]


def test_contactability_explains_every_channel(client, auth, customer):
    reasons, usable = _reach(client, auth, customer["id"])
    assert reasons == {c: "no_consent" for c in ("sms", "phone_call", "email", "app_push")} and usable == []
    for channel in ("sms", "phone_call", "email"):
        _consent(client, auth("staff"), customer["id"], channel)
    _consent(client, auth("staff"), customer["id"], "app_push", "granted")
    _consent(client, auth("staff"), customer["id"], "app_push", "withdrawn")
    reasons, usable = _reach(client, auth, customer["id"])
    # The registered landline serves phone calls; SMS and email still lack a contact point.
    assert reasons == {
        "sms": "no_contact_point",
        "phone_call": "consent_granted",
        "email": "no_contact_point",
        "app_push": "consent_withdrawn",
    }
    assert usable == ["phone_call"]
    _contact(client, auth("staff"), customer["id"], kind="mobile", value="13912345678")
    _contact(client, auth("staff"), customer["id"], kind="email", value="x@y.cn")
    assert _reach(client, auth, customer["id"])[1] == ["sms", "phone_call", "email"]


def test_do_not_contact_overrides_every_consent(client, auth, customer):
    _contact(client, auth("staff"), customer["id"])
    _consent(client, auth("staff"), customer["id"], "sms")
    url = f"/v1/customers/{customer['id']}/do-not-contact"
    resp = client.put(url, json={"do_not_contact": True, "reason": "asked at counter"}, headers=auth("staff"))
    assert resp.status_code == 200 and resp.json()["do_not_contact"] is True
    reasons, usable = _reach(client, auth, customer["id"])
    assert set(reasons.values()) == {"do_not_contact"} and usable == []
    client.put(url, json={"do_not_contact": False, "reason": "asked again"}, headers=auth("staff"))
    assert _reach(client, auth, customer["id"])[1] == ["sms"]


def test_consent_changed_events_carry_usable_channels(client, auth, customer):
    _contact(client, auth("staff"), customer["id"])
    _consent(client, auth("staff"), customer["id"], "sms")
    client.put(
        f"/v1/customers/{customer['id']}/do-not-contact",
        json={"do_not_contact": True, "reason": "complaint"},
        headers=auth("staff"),
    )
    events = _consent_events(client, auth)
    assert [e["data"] for e in events] == [
        {
            "channel": None,
            "purpose": "marketing",
            "status": None,
            "do_not_contact": False,
            "contactable_channels": [],
            "reachable_channels": ["sms", "phone_call"],  # service messages need a contact point only
        },
        {
            "channel": "sms",
            "purpose": "marketing",
            "status": "granted",
            "do_not_contact": False,
            "contactable_channels": ["sms"],
            "reachable_channels": ["sms", "phone_call"],
        },
        {
            "channel": None,
            "purpose": "marketing",
            "status": None,
            "do_not_contact": True,
            "contactable_channels": [],
            "reachable_channels": ["sms", "phone_call"],  # service messages need a contact point only
        },
    ]
    assert "13912345678" not in str(events)


def test_closed_customer_is_not_contactable_and_not_changeable(client, auth, customer):
    _consent(client, auth("staff"), customer["id"], "phone_call")
    client.post(f"/v1/customers/{customer['id']}/close", headers=auth("staff"))
    reasons, usable = _reach(client, auth, customer["id"])
    assert set(reasons.values()) == {"customer_closed"} and usable == []
    for resp in (
        _consent(client, auth("staff"), customer["id"]),
        _contact(client, auth("staff"), customer["id"]),
        client.put(
            f"/v1/customers/{customer['id']}/do-not-contact",
            json={"do_not_contact": True, "reason": "x"},
            headers=auth("staff"),
        ),
    ):
        assert resp.status_code == 409 and resp.json()["code"] == "customer_closed"


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"channel": "fax"}, "channel"),
        ({"status": "maybe"}, "status"),
        ({"given_via": "pigeon"}, "given_via"),
        ({"policy_version": "v 1"}, "policy_version"),
        ({"purpose": "service"}, "purpose"),
        ({"extra": True}, "extra"),
    ],
)
def test_bad_consent_is_422_naming_the_field(client, auth, customer, overrides, field):
    resp = _consent(client, auth("staff"), customer["id"], **overrides)
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", field]


def test_bad_queries_and_bodies_are_422(client, auth, customer):
    url = f"/v1/customers/{customer['id']}"
    resp = client.get(f"{url}/contactability", params={"purpose": "sales"}, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", "purpose"]
    resp = client.put(f"{url}/do-not-contact", json={"do_not_contact": "perhaps", "reason": "x"}, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "do_not_contact"]
    resp = client.get(f"{url}/consents/history", params={"cursor": "bad"}, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", "cursor"]


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("get", "contacts", None),
        ("post", "contacts", {"kind": "mobile", "value": "13912345678"}),
        ("get", "consents", None),
        ("get", "consents/history", None),
        ("post", "consents", {"channel": "sms", "status": "granted", "given_via": "app", "policy_version": "1"}),
        ("put", "do-not-contact", {"do_not_contact": True, "reason": "x"}),
        ("get", "contactability", None),
    ],
)
def test_customer_reaches_only_itself_and_unknown_is_404_and_no_token_is_401(
    client, auth, customer, method, path, body
):
    other = f.register(client, auth("staff"))
    kw = {"json": body} if body else {}
    own = getattr(client, method)(
        f"/v1/customers/{customer['id']}/{path}", headers=auth("customer", sub=customer["id"]), **kw
    )
    assert own.status_code in (200, 201)
    foreign = getattr(client, method)(
        f"/v1/customers/{other['id']}/{path}", headers=auth("customer", sub=customer["id"]), **kw
    )
    assert foreign.status_code == 404
    unknown = getattr(client, method)(f"/v1/customers/{uuid.uuid4()}/{path}", headers=auth("staff"), **kw)
    assert unknown.status_code == 404 and unknown.json()["code"] == "customer_not_found"
    assert getattr(client, method)(f"/v1/customers/{customer['id']}/{path}", **kw).status_code == 401


@pytest.mark.parametrize("role", ["staff", "supervisor", "admin"])
def test_staff_roles_write_and_system_may_only_read(client, auth, customer, role):
    assert _consent(client, auth(role), customer["id"]).status_code == 201
    assert _consent(client, auth("system"), customer["id"]).status_code == 403
    assert _contact(client, auth("system"), customer["id"]).status_code == 403
    assert client.get(f"/v1/customers/{customer['id']}/contactability", headers=auth("system")).status_code == 200


def test_removing_contact_of_other_customer_is_404(client, auth, customer):
    other = f.register(client, auth("staff"))
    theirs = _contact(client, auth("staff"), other["id"]).json()
    resp = client.delete(f"/v1/customers/{customer['id']}/contacts/{theirs['id']}", headers=auth("staff"))
    assert resp.status_code == 404 and resp.json()["code"] == "contact_not_found"
