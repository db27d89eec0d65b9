"""What every service's GET /v1/personal-data/{customer_id} refuses, checked the same way in each:
no token 401, staff and system 403, another customer 404, an id that is not a UUID 422."""

import uuid

from services.common.auth import ROLES

ADMITTED = ("customer", "supervisor", "admin")


def assert_refusals(client, auth) -> None:
    path = f"/v1/personal-data/{uuid.uuid4()}"
    assert client.get(path).status_code == 401
    for role in (r for r in ROLES if r not in ADMITTED):
        resp = client.get(path, headers=auth(role))
        assert (resp.status_code, resp.json()["code"]) == (403, "role_forbidden"), role
    other = client.get(path, headers=auth("customer", sub=str(uuid.uuid4())))
    assert (other.status_code, other.json()["code"]) == (404, "customer_not_found")
    bad = client.get("/v1/personal-data/not-a-uuid", headers=auth("supervisor"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["path", "customer_id"]
