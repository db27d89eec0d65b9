"""The delivery address a sending service asks for (loyalty's SMS and email delivery): the preferred
contact point of the kind, else the customer's own phone or email, unmasked, each answer on the access
log; only a system token with contacts:deliver (or admin); 404 when there is none; reachable_channels on
consent.changed."""

import pytest

from tests.profile import factories as f

DELIVER = {"scope": "contacts:deliver"}


def _address(client, auth, cid, channel, role="system", **kw):
    kw = {**(DELIVER if role == "system" else {}), **kw}
    return client.get(f"/v1/customers/{cid}/delivery-address", params={"channel": channel}, headers=auth(role, **kw))


def test_the_preferred_contact_point_wins_over_the_registered_phone(client, auth):
    c = f.register(client, auth("staff"), f.individual(phone="13800138000", email="li@example.cn"))
    assert _address(client, auth, c["id"], "sms").json()["address"] == "13800138000"
    assert _address(client, auth, c["id"], "email").json()["address"] == "li@example.cn"
    contact = {"kind": "mobile", "value": "13912345678", "is_preferred": True}
    assert client.post(f"/v1/customers/{c['id']}/contacts", json=contact, headers=auth("staff")).status_code == 201
    got = _address(client, auth, c["id"], "sms")
    assert got.status_code == 200 and got.json() == {"customer_id": c["id"], "channel": "sms", "address": "13912345678"}
    log = client.get(f"/v1/customers/{c['id']}/access-log", headers=auth("supervisor")).json()["items"]
    assert sum(1 for e in log if e["action"] == "contact.delivered_to") == 3


def test_no_address_is_404(client, auth):
    c = f.register(client, auth("staff"), f.individual(phone="010-62345678", email=None))
    resp = _address(client, auth, c["id"], "sms")
    assert resp.status_code == 404 and resp.json()["code"] == "contact_not_found"
    assert _address(client, auth, c["id"], "email").status_code == 404
    unknown = _address(client, auth, "5d1c0d7e-3f7a-4a55-9d8e-0b6a1c2d3e4f", "sms")
    assert unknown.status_code == 404 and unknown.json()["code"] == "customer_not_found"


@pytest.mark.parametrize(
    ("role", "kw", "status"),
    [("staff", {}, 403), ("customer", {}, 403), ("system", {"scope": "customers:read"}, 403), ("admin", {}, 200)],
)
def test_only_a_sending_service_asks(client, auth, role, kw, status):
    c = f.register(client, auth("staff"), f.individual(phone="13800138000"))
    resp = client.get(f"/v1/customers/{c['id']}/delivery-address", params={"channel": "sms"}, headers=auth(role, **kw))
    assert resp.status_code == status
    assert client.get(f"/v1/customers/{c['id']}/delivery-address", params={"channel": "sms"}).status_code == 401
    assert _address(client, auth, c["id"], "fax").status_code == 422


def test_consent_changed_names_the_channels_a_contact_point_reaches(client, auth):
    c = f.register(client, auth("staff"), f.individual(phone="13800138000", email=None))
    token = {"kind": "app_push", "value": "apptoken-0123456789abcdef"}
    assert client.post(f"/v1/customers/{c['id']}/contacts", json=token, headers=auth("staff")).status_code == 201
    [event] = [
        e for e in client.get("/v1/events", headers=auth("system")).json()["items"] if e["type"] == "consent.changed"
    ]
    assert event["data"]["reachable_channels"] == ["sms", "phone_call", "app_push"]
    assert event["data"]["contactable_channels"] == []
