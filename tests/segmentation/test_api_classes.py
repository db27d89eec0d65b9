"""The class catalogue, GET /v1/segments/classes: every class a customer can be in, as segment.changed
names it (the built-in schemes' classes, then one per rule segment), read by staff and system tokens.
It is the contract other services check their references to a class against: loyalty keeps the
built-in schemes' classes as a constant, held equal to this catalogue here."""

import pytest

from services.loyalty.service.classes import FIXED_CLASSES, RULE_CLASS, RULE_SCHEME
from services.segmentation.models import CLASSES, SCHEMES

RICH = {"field": "aum", "op": "gte", "value": "500000.00"}
SQLITE_ONLY = pytest.mark.parametrize("seg_db", ["sqlite"], indirect=True)  # roles and shapes: once is enough


def _segment(client, auth, name: str) -> str:
    resp = client.post("/v1/segments", json={"name": name, "rule": RICH}, headers=auth("staff"))
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def _catalogue(client, headers) -> list[dict]:
    resp = client.get("/v1/segments/classes", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def test_catalogue_lists_every_built_in_class_then_each_rule_segment_by_name(client, auth):
    later, first = _segment(client, auth, "Wealthy, second"), _segment(client, auth, "A wealthy list")
    items = _catalogue(client, auth("staff"))
    fixed = [{"scheme": s, "class": c} for s in SCHEMES for c in CLASSES[s]]
    assert [{"scheme": i["scheme"], "class": i["class"]} for i in items[: len(fixed)]] == fixed
    assert all(i["id"] == f"{i['scheme']}:{i['class']}" for i in items)
    assert {
        "id": "asset_size:mid_high",
        "scheme": "asset_size",
        "class": "mid_high",
        "label": "mid-to-high (中高端)",
    } in items
    assert items[len(fixed) :] == [
        {"id": f"rule:{first}:member", "scheme": f"rule:{first}", "class": "member", "label": "A wealthy list"},
        {"id": f"rule:{later}:member", "scheme": f"rule:{later}", "class": "member", "label": "Wealthy, second"},
    ]


def test_a_rule_segment_is_in_the_catalogue_as_its_members_are_named_in_segment_changed(client, auth, feed):
    customer = feed.register()
    feed.assets(customer, 600_000_000)
    seg = _segment(client, auth, "Rich")
    history = client.get("/v1/memberships/history", params={"customer_id": customer}, headers=auth("staff")).json()
    [joined] = [c for c in history["items"] if c["scheme"].startswith("rule:")]
    assert f"{joined['scheme']}:{joined['to_class']}" == f"rule:{seg}:member"
    assert f"rule:{seg}:member" in {i["id"] for i in _catalogue(client, auth("staff"))}


@SQLITE_ONLY
@pytest.mark.parametrize("role", ["staff", "supervisor", "admin", "system"])
def test_catalogue_is_read_by_staff_and_system_tokens(client, auth, role):
    assert len(_catalogue(client, auth(role))) == sum(len(c) for c in CLASSES.values())


@SQLITE_ONLY
def test_catalogue_refuses_a_customer_and_a_caller_without_token(client, auth):
    resp = client.get("/v1/segments/classes", headers=auth("customer"))
    assert resp.status_code == 403 and resp.json()["code"] == "role_forbidden"
    resp = client.get("/v1/segments/classes")
    assert resp.status_code == 401 and resp.headers["content-type"] == "application/problem+json"
    resp = client.get("/v1/segments/classes", params={"scheme": "asset_size"}, headers=auth("staff"))
    assert resp.status_code == 422  # no filters: the catalogue is read whole


def test_catalogue_is_documented_with_its_problems(client):
    op = client.get("/openapi.json").json()["paths"]["/v1/segments/classes"]["get"]
    assert {"200", "401", "403", "422"} <= set(op["responses"])
    assert op["responses"]["403"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }


@SQLITE_ONLY
def test_loyaltys_copy_of_the_built_in_classes_is_this_catalogue(client, auth):
    """The contract loyalty validates eligible_segments, target_segments and multipliers by, locally: if
    a scheme or a class changes here, loyalty's FIXED_CLASSES must change with it."""
    rule_id = _segment(client, auth, "Rich")
    items = _catalogue(client, auth("system"))
    fixed = [i["id"] for i in items if not i["scheme"].startswith(f"{RULE_SCHEME}:")]
    assert fixed == [f"{s}:{c}" for s, classes in FIXED_CLASSES.items() for c in classes]
    assert [i["id"] for i in items if i["id"] not in fixed] == [f"{RULE_SCHEME}:{rule_id}:{RULE_CLASS}"]
