"""Registering customers: each type, each role, every validation rule, duplicates, idempotency."""

import pytest

from services.common.auth import mint_token
from tests.profile import factories as f


def test_register_individual_as_staff_returns_masked_customer(client, auth):
    body = f.individual()
    resp = client.post("/v1/customers", json=body, headers=auth("staff"))
    assert resp.status_code == 201, resp.text
    c = resp.json()
    assert resp.headers["location"] == f"/v1/customers/{c['id']}"
    assert resp.headers["etag"] == '"1"'
    assert c["id_number"] == body["resident_id"][:6] + "*" * 8 + body["resident_id"][-4:]
    assert c["phone"] == body["phone"][:3] + "****" + body["phone"][-4:]
    assert c["email"] == "w***@example.cn"
    assert c["status"] == "active" and c["version"] == 1 and c["type"] == "individual"
    assert len(c["customer_no"]) == 12 and c["customer_no"].isdigit()
    assert c["created_at"].endswith("Z")


@pytest.mark.parametrize("kind", ["enterprise", "interbank"])
def test_register_organisation_returns_masked_credit_code(client, auth, kind):
    body = f.enterprise(kind)
    c = f.register(client, auth("staff"), body)
    assert c["type"] == kind and c["id_type"] == "credit_code" and c["contact_name"] == "李四"
    assert c["id_number"] == body["credit_code"][:6] + "********" + body["credit_code"][-4:]
    assert c["phone"] == "010****5678"


def test_register_numbers_are_unique_and_increasing(client, auth):
    numbers = [f.register(client, auth("staff"))["customer_no"] for _ in range(3)]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3


@pytest.mark.parametrize("role", ["staff", "supervisor", "admin"])
def test_register_as_writer_role_succeeds(client, auth, role):
    assert client.post("/v1/customers", json=f.individual(), headers=auth(role)).status_code == 201


@pytest.mark.parametrize("role", ["customer", "system"])
def test_register_as_other_role_is_forbidden(client, auth, role):
    resp = client.post("/v1/customers", json=f.individual(), headers=auth(role))
    assert resp.status_code == 403
    assert resp.json()["code"] == "role_forbidden"


@pytest.mark.parametrize(
    "headers, code",
    [
        ({}, "token_missing"),
        ({"Authorization": "Bearer not-a-jwt"}, "token_invalid"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "token_missing"),
    ],
)
def test_register_without_valid_token_is_unauthorized(client, headers, code):
    resp = client.post("/v1/customers", json=f.individual(), headers=headers)
    assert resp.status_code == 401
    assert resp.json()["code"] == code
    assert resp.headers["www-authenticate"].startswith("Bearer")


def test_register_with_expired_token_is_unauthorized(client):
    tok = mint_token("dev-only-jwt-secret-change-me-0123456789abcdef", sub="s", role="staff", ttl_seconds=-120)
    resp = client.post("/v1/customers", json=f.individual(), headers={"Authorization": f"Bearer {tok}"})
    assert resp.status_code == 401 and resp.json()["code"] == "token_expired"


def test_register_with_foreign_signature_is_unauthorized(client):
    tok = mint_token("some-other-secret-of-sufficient-length-0123", sub="s", role="staff")
    resp = client.post("/v1/customers", json=f.individual(), headers={"Authorization": f"Bearer {tok}"})
    assert resp.status_code == 401 and resp.json()["code"] == "token_invalid"


def _rid_with_birth(birth: str) -> str:
    from services.profile.service.identity import resident_id_check_char

    first17 = f"110105{birth}123"
    return first17 + resident_id_check_char(first17)


def _wrong_check(rid: str) -> str:
    return rid[:17] + ("1" if rid[17] != "1" else "2")


BAD_INDIVIDUAL = [
    ("resident_id", {"resident_id": "11010519491231002X"[:17] + "1"}),  # check character wrong
    ("resident_id", {"resident_id": _rid_with_birth("19490231")}),  # 31 February
    ("resident_id", {"resident_id": _rid_with_birth("21990101")}),  # born in the future
    ("resident_id", {"resident_id": "11010519491231002"}),  # 17 characters
    ("resident_id", {"resident_id": "1101051949123100AX"}),  # letters
    ("phone", {"phone": "12345"}),
    ("phone", {"phone": "23812345678"}),
    ("email", {"email": "not-an-email"}),
    ("region_type", {"region_type": "moon"}),
    ("branch_code", {"branch_code": "bj-01"}),
    ("name", {"name": ""}),
    ("name", {"name": "王" * 101}),
    ("name", {"name": "bad\x00name"}),
    ("province", {"province": "x" * 33}),
    ("city", {"city": "x" * 65}),
    ("type", {"type": "martian"}),
    ("unknown_field", {"unknown_field": 1}),
    ("phone", {"phone": -13812345678}),
    ("name", {"name": 12.5}),
    ("credit_code", {"credit_code": "911100006373443726"}),  # not for an individual
    ("contact_name", {"contact_name": "李四"}),  # not for an individual
]


@pytest.mark.parametrize(
    "field, change", BAD_INDIVIDUAL, ids=[f"{fld}-{i}" for i, (fld, _) in enumerate(BAD_INDIVIDUAL)]
)
def test_register_bad_individual_is_422_naming_field(client, auth, field, change):
    resp = client.post("/v1/customers", json=f.individual(**change), headers=auth("staff"))
    assert resp.status_code == 422, resp.text
    problem = resp.json()
    assert resp.headers["content-type"] == "application/problem+json"
    assert problem["code"] == "validation_failed" and problem["status"] == 422
    assert field in {e["loc"][-1] for e in problem["errors"]}, problem
    # The submitted value is never echoed back (it may be personal data).
    assert all(set(e) == {"loc", "msg", "type"} for e in problem["errors"])
    value = next(iter(change.values()))
    if isinstance(value, str) and len(value) > 8:
        assert value not in resp.text


def test_register_individual_without_resident_id_is_422(client, auth):
    body = f.individual()
    del body["resident_id"]
    resp = client.post("/v1/customers", json=body, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "resident_id"]


def test_register_enterprise_without_code_and_contact_is_422(client, auth):
    body = f.enterprise()
    del body["credit_code"], body["contact_name"]
    resp = client.post("/v1/customers", json=body, headers=auth("staff"))
    assert resp.status_code == 422
    assert {tuple(e["loc"]) for e in resp.json()["errors"]} == {("body", "credit_code"), ("body", "contact_name")}


def test_register_enterprise_with_resident_id_is_422(client, auth):
    resp = client.post("/v1/customers", json=f.enterprise(resident_id=f.resident_id()), headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "resident_id"]


@pytest.mark.parametrize("code", ["91110000637344372", "9111000063734437IO", "91110000637344372!"])
def test_register_malformed_credit_code_is_422(client, auth, code):
    resp = client.post("/v1/customers", json=f.enterprise(credit_code=code), headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"][-1] == "credit_code"


def test_register_credit_code_failing_check_is_422(client, auth):
    resp = client.post("/v1/customers", json=f.enterprise(credit_code=f.bad_credit_code()), headers=auth("staff"))
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["type"] == "check_character"


def test_register_override_by_staff_is_forbidden(client, auth):
    body = f.enterprise(credit_code=f.bad_credit_code(), id_check_override_reason="early code issued in 2016")
    resp = client.post("/v1/customers", json=body, headers=auth("staff"))
    assert resp.status_code == 403 and resp.json()["code"] == "override_forbidden"


def test_register_override_by_supervisor_is_audited(client, auth):
    body = f.enterprise(credit_code=f.bad_credit_code(), id_check_override_reason="early code issued in 2016")
    c = f.register(client, auth("supervisor", sub="sup-1"), body)
    log = client.get(f"/v1/customers/{c['id']}/access-log", headers=auth("supervisor")).json()["items"]
    assert [(e["action"], e["actor_sub"], e["reason"]) for e in log] == [
        ("identity_check.overridden", "sup-1", "early code issued in 2016")
    ]


def test_register_same_identity_twice_is_409_with_existing_id(client, auth):
    body = f.individual()
    first = f.register(client, auth("staff"), body)
    resp = client.post("/v1/customers", json={**body, "phone": f.mobile()}, headers=auth("staff"))
    assert resp.status_code == 409
    assert resp.json()["code"] == "customer_duplicate"
    assert resp.json()["existing_customer_id"] == first["id"]


def test_register_lowercase_x_is_the_same_identity(client, auth):
    f.register(client, auth("staff"), f.individual(resident_id="11010519491231002X"))
    resp = client.post("/v1/customers", json=f.individual(resident_id="11010519491231002x"), headers=auth("staff"))
    assert resp.status_code == 409


def test_register_replay_with_same_key_returns_first_response(client, auth):
    headers = {**auth("staff", sub="teller-7"), "Idempotency-Key": "reg-0001"}
    body = f.individual()
    first = client.post("/v1/customers", json=body, headers=headers)
    again = client.post("/v1/customers", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotency-replayed"] == "true"
    events = client.get("/v1/events", headers=auth("system")).json()["items"]
    assert [e["type"] for e in events] == ["customer.registered"]


def test_register_same_key_other_body_is_409(client, auth):
    headers = {**auth("staff", sub="teller-7"), "Idempotency-Key": "reg-0002"}
    assert client.post("/v1/customers", json=f.individual(), headers=headers).status_code == 201
    resp = client.post("/v1/customers", json=f.individual(), headers=headers)
    assert resp.status_code == 409 and resp.json()["code"] == "idempotency_key_reused"


def test_register_same_key_other_caller_is_independent(client, auth):
    key = {"Idempotency-Key": "shared-key"}
    assert (
        client.post("/v1/customers", json=f.individual(), headers={**auth("staff", sub="a"), **key}).status_code == 201
    )
    assert (
        client.post("/v1/customers", json=f.individual(), headers={**auth("staff", sub="b"), **key}).status_code == 201
    )


@pytest.mark.parametrize("key", ["x" * 201, "has space", ""])
def test_register_malformed_idempotency_key_is_422(client, auth, key):
    resp = client.post("/v1/customers", json=f.individual(), headers={**auth("staff"), "Idempotency-Key": key})
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]


def test_register_malformed_json_is_422(client, auth):
    resp = client.post(
        "/v1/customers", content=b"{not json", headers={**auth("staff"), "content-type": "application/json"}
    )
    assert resp.status_code == 422 and resp.json()["code"] == "validation_failed"
