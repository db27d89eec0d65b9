"""Bound and scoped tokens against real processes (profile and the gateway, SQLite and PostgreSQL): a
token for another audience, from another issuer or living too long is 401 at the gateway and at
profile itself; a system token reaches only what its scopes allow, through the gateway as directly;
the identity provider's keys rotate through a JWKS."""

import json

import httpx
import pytest

from services.common.auth import mint_token
from services.common.config import DEV_JWT_SECRET
from tests.dbkit import fresh_pg_database, require_postgres, worker_id
from tests.e2e.conftest import Process, base_env, migrate_service, profile_only_gateway
from tests.rsa_keys import jwk, pem_pair

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


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_identity_provider_keys_rotate_through_a_jwks_file(tmp_path, database):
    """Profile and the gateway under RS256 read the identity provider's JWKS from a file: with the old
    and the new key published, tokens under either pass; restarted with the old key removed, a token
    naming it is 401 at the gateway and at profile, and the new key's still pass."""
    keys = {kid: pem_pair() for kid in ("2026-01", "2026-07")}
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk(public, kid) for kid, (_, public) in keys.items()]}))
    if database == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'profile.db'}"
    else:
        require_postgres()
        database_url = fresh_pg_database(f"test_e2e_jwks_{worker_id()}")
    migrate_service("profile", database_url)
    rs256 = {"JWT_ALGORITHM": "RS256", "JWT_JWKS_FILE": str(jwks), "ENVIRONMENT": "test", "LOG_LEVEL": "WARNING"}
    profile = Process(
        "profile",
        "services.profile.app:create_app",
        base_env(PROFILE_DATABASE_URL=database_url, **{f"PROFILE_{k}": v for k, v in rs256.items()}),
        tmp_path / "profile.log",
    )
    gateway = profile_only_gateway(profile, tmp_path / "gateway.log", **{f"GATEWAY_{k}": v for k, v in rs256.items()})

    def status(kid: str) -> list[int]:
        token = mint_token(keys[kid][0], sub="s-1", role="staff", branch="BJ0001", algorithm="RS256", kid=kid)
        headers = {"Authorization": f"Bearer {token}"}
        return [
            httpx.get(url + path, params={"name_prefix": "王"}, headers=headers, timeout=10).status_code
            for url, path in ((gateway.url, "/api/v1/customers"), (profile.url, "/v1/customers"))
        ]

    try:
        for proc in (profile, gateway):
            proc.start()
        assert status("2026-01") == status("2026-07") == [200, 200]
        for proc in (gateway, profile):
            proc.stop()
        jwks.write_text(json.dumps({"keys": [jwk(keys["2026-07"][1], "2026-07")]}))
        for proc in (profile, gateway):
            proc.start()
        assert (status("2026-01"), status("2026-07")) == ([401, 401], [200, 200])
    finally:
        gateway.stop()
        profile.stop()
