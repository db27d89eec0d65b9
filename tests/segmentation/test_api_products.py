"""Changing and retiring catalogue products: versions with If-Match, retired products readable but never
recommended, every declared error status and every role."""

import pytest

MISSING = "00000000-0000-4000-8000-0000000000cc"
FUND = {
    "code": "FUND2",
    "name": "Balanced fund",
    "category": "wealth",
    "risk_level": "R2",
    "needs_tag": "returns",
    "target_classes": ["asset_size:ordinary"],
}
DEPOSIT = {"code": "DEP", "name": "Time deposit", "category": "deposit", "needs_tag": "saving"}


def create(client, auth, body=None) -> dict:
    r = client.post("/v1/products", json=body or DEPOSIT, headers=auth("admin"))
    assert r.status_code == 201, r.text
    assert r.headers["ETag"] == '"1"'
    return r.json()


def patch(client, auth, pid, body, version="1", role="supervisor"):
    headers = auth(role) | ({"If-Match": f'"{version}"'} if version is not None else {})
    return client.patch(f"/v1/products/{pid}", json=body, headers=headers)


def retire(client, auth, pid, version=None, role="supervisor"):
    """Retirement under dual control: asked by `role`, approved by an admin other than the maker; the
    answer is the product as read after approval (or the refusal of the request)."""
    headers = auth(role, sub="maker-1") | ({"If-Match": f'"{version}"'} if version is not None else {})
    asked = client.post(f"/v1/products/{pid}/retire", headers=headers)
    if asked.status_code != 202:
        return asked
    done = client.post(f"/v1/products/approvals/{asked.json()['id']}/approve", headers=auth("admin", sub="checker-1"))
    assert done.status_code == 200, done.text
    return client.get(f"/v1/products/{pid}", headers=auth("staff"))


def codes(client, auth, cid) -> list[str]:
    r = client.get(f"/v1/recommendations?customer_id={cid}", headers=auth("staff"))
    return [i["product"]["code"] for i in r.json()["items"]]


def test_update_changes_only_the_fields_sent_and_bumps_the_version(client, auth, clock):
    p = create(client, auth)
    clock.advance(hours=1)
    r = patch(client, auth, p["id"], {"name": "Three-year deposit", "target_classes": ["region:rural"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert r.headers["ETag"] == '"2"' and body["version"] == 2
    assert (body["name"], body["target_classes"], body["code"], body["needs_tag"]) == (
        "Three-year deposit",
        ["region:rural"],
        "DEP",
        "saving",
    )
    assert body["updated_at"] > body["created_at"] and body["retired_at"] is None
    got = client.get(f"/v1/products/{p['id']}", headers=auth("customer"))
    assert got.headers["ETag"] == '"2"' and got.json()["name"] == "Three-year deposit"


def test_update_takes_effect_in_recommendations(client, auth, feed):
    cid = feed.register(region="urban")
    p = create(client, auth, DEPOSIT | {"target_classes": ["region:rural"]})
    assert codes(client, auth, cid) == []
    assert patch(client, auth, p["id"], {"target_classes": ["region:urban"]}).status_code == 200
    assert codes(client, auth, cid) == ["DEP"]


def test_retired_product_is_readable_but_never_recommended(client, auth, feed):
    cid = feed.register()
    p = create(client, auth)
    assert codes(client, auth, cid) == ["DEP"]
    r = retire(client, auth, p["id"], version=1)
    assert r.status_code == 200, r.text
    assert r.json()["is_active"] is False and r.json()["retired_at"] is not None and r.headers["ETag"] == '"2"'
    assert codes(client, auth, cid) == []
    got = client.get(f"/v1/products/{p['id']}", headers=auth("customer"))
    assert got.status_code == 200 and got.json()["is_active"] is False
    listed = client.get("/v1/products", headers=auth("staff")).json()["items"]
    assert [(i["code"], i["is_active"]) for i in listed] == [("DEP", False)]


def test_retire_without_if_match_is_allowed(client, auth):
    p = create(client, auth)
    assert retire(client, auth, p["id"]).status_code == 200


def test_retired_product_cannot_be_changed_or_retired_again_409(client, auth):
    p = create(client, auth)
    assert retire(client, auth, p["id"]).status_code == 200
    for r in (retire(client, auth, p["id"]), patch(client, auth, p["id"], {"name": "x"}, version="2")):
        assert r.status_code == 409 and r.json()["code"] == "product_retired"
        assert r.headers["content-type"].startswith("application/problem+json")


def test_stale_version_is_412_and_missing_if_match_428(client, auth):
    p = create(client, auth)
    assert patch(client, auth, p["id"], {"name": "x"}).status_code == 200
    stale = patch(client, auth, p["id"], {"name": "y"}, version="1")
    assert stale.status_code == 412
    assert retire(client, auth, p["id"], version=1).status_code == 412
    assert patch(client, auth, p["id"], {"name": "y"}, version=None).status_code == 428
    assert client.get(f"/v1/products/{p['id']}", headers=auth("staff")).json()["name"] == "x"


def test_unknown_product_is_404(client, auth):
    for r in (patch(client, auth, MISSING, {"name": "x"}), retire(client, auth, MISSING)):
        assert r.status_code == 404 and r.json()["code"] == "product_not_found"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"risk_level": None}, ["body", "risk_level"]),  # a wealth product keeps a risk level
        ({"category": "loan", "risk_level": "R7"}, ["body", "risk_level"]),
        ({"name": None}, ["body"]),
        ({"needs_tag": "yachts"}, ["body", "needs_tag"]),
        ({"code": "NEW"}, ["body", "code"]),  # the code never changes
        ({"target_classes": ["asset_size:galactic"]}, ["body", "target_classes", 0]),
    ],
)
def test_bad_updates_are_422_naming_the_field(client, auth, body, loc):
    p = create(client, auth, FUND)
    r = patch(client, auth, p["id"], body)
    assert r.status_code == 422, r.text
    assert loc in [e["loc"][: len(loc)] for e in r.json()["errors"]]
    assert client.get(f"/v1/products/{p['id']}", headers=auth("staff")).json()["version"] == 1


def test_malformed_if_match_is_422(client, auth):
    p = create(client, auth)
    assert patch(client, auth, p["id"], {"name": "x"}, version="abc").status_code == 422
    assert client.post(f"/v1/products/{p['id']}/retire", headers=auth("admin") | {"If-Match": "x"}).status_code == 422


def test_risk_level_may_be_cleared_when_the_category_allows_it(client, auth):
    p = create(client, auth, FUND)
    r = patch(client, auth, p["id"], {"category": "deposit", "risk_level": None})
    assert r.status_code == 200 and r.json()["risk_level"] is None


@pytest.mark.parametrize(
    ("role", "status"), [("customer", 403), ("staff", 403), ("system", 403), ("supervisor", 200), ("admin", 200)]
)
def test_who_may_change_and_retire_products(client, auth, role, status):
    p = create(client, auth)
    assert patch(client, auth, p["id"], {"name": "x"}, role=role).status_code == status
    assert retire(client, auth, p["id"], role=role).status_code == status


def test_product_writes_need_a_token(client, auth):
    p = create(client, auth)
    assert client.patch(f"/v1/products/{p['id']}", json={"name": "x"}, headers={"If-Match": '"1"'}).status_code == 401
    assert client.post(f"/v1/products/{p['id']}/retire").status_code == 401
