"""Tokens are checked at the edge: a bad one is a 401 problem and never reaches a service."""

import pytest

from services.common.auth import mint_token
from services.common.config import DEV_JWT_SECRET


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "token_missing"),
        ("Basic c3RhZmY6cGFzcw==", "token_missing"),
        ("Bearer not-a-jwt", "token_invalid"),
        ("Bearer " + mint_token(DEV_JWT_SECRET, sub="s-1", role="staff", ttl_seconds=-120), "token_expired"),
        ("Bearer " + mint_token("another-secret-" + "x" * 32, sub="s-1", role="staff"), "token_invalid"),
        ("Bearer " + mint_token(DEV_JWT_SECRET, sub="s-1", role="janitor"), "token_invalid"),
        ("Bearer " + mint_token(DEV_JWT_SECRET, sub="s-1", role="staff", audience="another-suite"), "token_audience"),
        (
            "Bearer " + mint_token(DEV_JWT_SECRET, sub="s-1", role="staff", issuer="https://evil.example"),
            "token_issuer",
        ),
        (
            "Bearer " + mint_token(DEV_JWT_SECRET, sub="s-1", role="staff", ttl_seconds=100 * 365 * 86_400),
            "token_lifetime_too_long",
        ),
    ],
    ids=["missing", "basic", "garbage", "expired", "bad-signature", "unknown-role", "audience", "issuer", "lifetime"],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_bad_token_401_problem_no_upstream_call(gateway, upstream, method, authorization, code):
    before = len(upstream.seen)
    headers = {"Authorization": authorization} if authorization else {}
    r = gateway().request(method, "/api/v1/customers", headers=headers, json={"name": "x"})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["code"] == code
    assert len(upstream.seen) == before


def test_bad_token_401_before_unknown_prefix_404(gateway):
    # The route table is not revealed to callers without a token.
    r = gateway().get("/api/v1/nosuch")
    assert (r.status_code, r.json()["code"]) == (401, "token_missing")


@pytest.mark.parametrize("role", ["customer", "staff", "supervisor", "admin", "system"])
def test_valid_token_each_role_forwarded(gateway, upstream, auth, role):
    # Roles are the owning service's to judge; the edge checks only that the token is genuine.
    r = gateway().get("/api/v1/customers/1", headers=auth(role))
    assert r.status_code == 200
    assert upstream.seen[-1]["path"] == "/v1/customers/1"
