"""Idempotency-Key on POST /v1/segments and POST /v1/products: replay, reuse with another body,
malformed keys, and keys scoped per caller."""

import pytest

RULE = {"field": "aum", "op": "gte", "value": "500000.00"}
SEGMENT = {"name": "wealthy", "rule": RULE}
PRODUCT = {"code": "DEP1", "name": "Time deposit", "category": "deposit", "needs_tag": "saving"}
CREATES = [
    pytest.param("/v1/segments", "staff", SEGMENT, {"name": "other"}, id="segments"),
    pytest.param("/v1/products", "admin", PRODUCT, {"code": "DEP2"}, id="products"),
]


def post(client, auth, path, role, body, key, sub=None):
    headers = auth(role, sub=sub or f"{role}-1") | ({"Idempotency-Key": key} if key is not None else {})
    return client.post(path, json=body, headers=headers)


@pytest.mark.parametrize(("path", "role", "body", "change"), CREATES)
def test_same_key_and_body_replays_the_first_response(client, auth, path, role, body, change):
    first = post(client, auth, path, role, body, "retry-0001")
    assert first.status_code == 201, first.text
    assert "Idempotency-Replayed" not in first.headers
    again = post(client, auth, path, role, body, "retry-0001")
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    if path == "/v1/segments":
        assert again.headers["ETag"] == first.headers["ETag"] == '"1"'
    listed = client.get(path, headers=auth("admin")).json()["items"]
    assert [item["id"] for item in listed] == [first.json()["id"]]  # created once


@pytest.mark.parametrize(("path", "role", "body", "change"), CREATES)
def test_same_key_with_another_body_is_409(client, auth, path, role, body, change):
    assert post(client, auth, path, role, body, "retry-0002").status_code == 201
    r = post(client, auth, path, role, body | change, "retry-0002")
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "idempotency_key_reused"
    assert len(client.get(path, headers=auth("admin")).json()["items"]) == 1


@pytest.mark.parametrize(("path", "role", "body", "change"), CREATES)
def test_without_a_key_a_repeat_is_the_usual_conflict(client, auth, path, role, body, change):
    assert post(client, auth, path, role, body, None).status_code == 201
    r = post(client, auth, path, role, body, None)
    assert r.status_code == 409
    assert r.json()["code"] in {"segment_name_taken", "product_code_taken"}


@pytest.mark.parametrize(("path", "role", "body", "change"), CREATES)
def test_keys_belong_to_their_caller(client, auth, path, role, body, change):
    assert post(client, auth, path, role, body, "shared-key", sub=f"{role}-a").status_code == 201
    # another caller's same key is no replay: it is a new create, here meeting the unique name/code
    r = post(client, auth, path, role, body, "shared-key", sub=f"{role}-b")
    assert r.status_code == 409 and r.json()["code"] != "idempotency_key_reused"
    assert post(client, auth, path, role, body | change, "shared-key", sub=f"{role}-b").status_code == 201


@pytest.mark.parametrize(("path", "role", "body", "change"), CREATES)
@pytest.mark.parametrize("key", ["", "x" * 201, "has space", "ключ".encode()])
def test_malformed_key_is_422_naming_the_header(client, auth, path, role, body, change, key):
    r = client.post(path, json=body, headers=auth(role) | {"Idempotency-Key": key})
    assert r.status_code == 422, r.text
    assert ["header", "Idempotency-Key"] in [e["loc"] for e in r.json()["errors"]]
    assert client.get(path, headers=auth("admin")).json()["items"] == []


@pytest.mark.parametrize(("path", "role", "body", "change"), CREATES)
def test_a_refused_create_stores_nothing_under_the_key(client, auth, path, role, body, change):
    bad = body | (
        {"rule": {"field": "colour", "op": "eq", "value": "red"}} if path == "/v1/segments" else {"category": "wealth"}
    )
    assert post(client, auth, path, role, bad, "retry-0003").status_code == 422
    r = post(client, auth, path, role, body, "retry-0003")  # the corrected retry goes through
    assert r.status_code == 201 and "Idempotency-Replayed" not in r.headers
