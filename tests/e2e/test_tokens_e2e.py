"""Bound and scoped tokens against real processes (profile and the gateway, SQLite and PostgreSQL): a
token for another audience, from another issuer or living too long is 401 at the gateway and at
profile itself; a system token reaches only what its scopes allow, through the gateway as directly."""

import httpx
import pytest

from services.common.auth import mint_token
from services.common.config import DEV_JWT_SECRET

pytestmark = pytest.mark.e2e

BOUND_ELSEWHERE = {
    "token_audience": {"audience": "another-suite"},
    "token_issuer": {"issuer": "https://evil.example"},
    "token_lifetime_too_long": {"ttl_seconds": 100 * 365 * 86_400},
}


def test_tokens_bound_elsewhere_are_401_at_the_gateway_and_at_profile(suite):
    for code, binding in BOUND_ELSEWHERE.items():
        token = mint_token(DEV_JWT_SECRET, sub="s-1", role="staff", branch="BJ0001", **binding)
        headers = {"Authorization": f"Bearer {token}"}
        for url, path in ((suite.gateway.url, "/api/v1/customers"), (suite.profile.url, "/v1/customers")):
            r = httpx.get(url + path, params={"name_prefix": "王"}, headers=headers, timeout=10)
            assert (r.status_code, r.json()["code"]) == (401, code), (url, r.text)


def test_system_token_reaches_only_its_scopes(suite, auth):
    with httpx.Client(base_url=suite.gateway.url, timeout=10) as gateway:
        reader = auth("system", scope="customers:read")
        assert gateway.get("/api/v1/customers", params={"name_prefix": "王"}, headers=reader).status_code == 200
        refused = gateway.post("/api/v1/transactions:batch", json={"items": []}, headers=reader)
        assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_scope"), refused.text
        assert refused.json()["scope"] == "transactions:write"
        assert refused.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="transactions:write"'
    feed = auth("system", scope="events:read")
    assert httpx.get(f"{suite.profile.url}/v1/events", headers=feed, timeout=10).status_code == 200
    no_feed = httpx.get(f"{suite.profile.url}/v1/events", headers=reader, timeout=10)
    assert (no_feed.status_code, no_feed.json()["code"]) == (403, "insufficient_scope")
