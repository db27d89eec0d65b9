"""Loyalty refuses control characters in its text fields (422 naming the field)."""

import uuid


def test_a_reward_name_with_nul_is_422_and_nothing_is_created(client, auth):
    body = {"code": f"g-{uuid.uuid4().hex[:8]}", "name": "伞\u0000", "type": "gift", "points_price": 100}
    resp = client.post("/v1/loyalty/rewards", json=body, headers=auth("supervisor"))
    assert resp.status_code == 422, resp.text
    assert [e["loc"] for e in resp.json()["errors"]] == [["body", "name"]]
    assert client.get("/v1/loyalty/rewards", headers=auth("staff")).json()["items"] == []
