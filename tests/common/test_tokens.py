"""Tokens are bound to this suite: the configured audience and issuer, and a lifetime no longer than
allowed (401 token_audience, token_issuer, token_lifetime_too_long); RS256 keys come from a JWKS
picked by `kid`, so they rotate; a system token's `scope` is read as a string or a list; the
services' consumers and the development CLI mint what the verifier expects."""

import json
import time

import jwt
import pytest
from pydantic import ValidationError

from services.common import tokens
from services.common.auth import SCOPES, TokenVerifier, mint_token
from services.common.config import DEV_JWT_SECRET, BaseServiceSettings
from services.common.consumer import system_token_source
from services.common.errors import Unauthorized
from tests.rsa_keys import jwk, pem_pair

YEAR = 365 * 86_400


def _signed(key: str = DEV_JWT_SECRET, algorithm: str = "HS256", kid: str | None = None, **change) -> str:
    """A token with good claims, each of `change` replacing one (None drops it; exp and iat are
    seconds from now)."""
    now = int(time.time())
    claims = {"sub": "s-1", "role": "staff", "aud": "postal-savings-suite", "iss": "postal-savings-dev", "iat": 0}
    claims |= {"exp": 600} | change
    for name in ("exp", "iat"):
        if claims[name] is not None:
            claims[name] += now
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid} if kid else None)


def _refusal(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Unauthorized) as err:
        verifier.verify(token)
    assert err.value.status == 401
    return err.value.code


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"aud": "another-suite"}, "token_audience"),
        ({"aud": ["crm", "core-banking"]}, "token_audience"),
        ({"aud": None}, "token_audience"),
        ({"iss": "https://evil.example"}, "token_issuer"),
        ({"iss": None}, "token_issuer"),
        ({"exp": 100 * YEAR}, "token_lifetime_too_long"),
        ({"exp": 86_401}, "token_lifetime_too_long"),
        ({"iat": None, "exp": 86_400 + 3600}, "token_lifetime_too_long"),
        ({"iat": -3600, "exp": 86_400}, "token_lifetime_too_long"),  # issued an hour ago, for 24 h and 1 h
        ({"iat": 3600, "exp": 7200}, "token_invalid"),  # issued in the future
        ({"role": "system", "scope": 42}, "token_invalid"),
        ({"role": "system", "scope": ["events:read", 7]}, "token_invalid"),
    ],
    ids=[
        "other-aud",
        "other-auds",
        "no-aud",
        "evil-iss",
        "no-iss",
        "100-years",
        "a-day-and-a-second",
        "too-long-without-iat",
        "too-long-from-iat",
        "iat-ahead",
        "scope-number",
        "scope-list-of-mixed",
    ],
)
def test_token_outside_its_binding_is_refused(change, code):
    assert _refusal(TokenVerifier(BaseServiceSettings()), _signed(**change)) == code


@pytest.mark.parametrize(
    "change",
    [{}, {"aud": ["crm", "postal-savings-suite"]}, {"exp": 86_400}, {"iat": None, "exp": 86_400}],
    ids=["plain", "one-of-several-auds", "a-day", "a-day-without-iat"],
)
def test_token_within_its_binding_is_accepted(change):
    assert TokenVerifier(BaseServiceSettings()).verify(_signed(**change)).sub == "s-1"


def test_the_binding_follows_the_settings():
    verifier = TokenVerifier(
        BaseServiceSettings(
            jwt_audience="bank-crm", jwt_issuer="https://idp.bank.example", jwt_max_lifetime_seconds=900
        )
    )
    bound = {"audience": "bank-crm", "issuer": "https://idp.bank.example"}
    assert verifier.verify(mint_token(DEV_JWT_SECRET, sub="s-1", role="staff", ttl_seconds=900, **bound)).sub == "s-1"
    for default, code in (("audience", "token_audience"), ("issuer", "token_issuer")):
        token = mint_token(DEV_JWT_SECRET, sub="s-1", role="staff", **{k: v for k, v in bound.items() if k != default})
        assert _refusal(verifier, token) == code
    long = mint_token(DEV_JWT_SECRET, sub="s-1", role="staff", ttl_seconds=901, **bound)
    assert _refusal(verifier, long) == "token_lifetime_too_long"


def test_suite_wide_binding_and_a_services_own_wins(monkeypatch):
    from services.profile.config import ProfileSettings

    monkeypatch.setenv("SUITE_JWT_AUDIENCE", "bank-crm")
    monkeypatch.setenv("SUITE_JWT_ISSUER", "https://idp.bank.example")
    monkeypatch.setenv("PROFILE_JWT_ISSUER", "https://profile-idp.bank.example")
    settings = ProfileSettings(environment="test")
    assert (settings.jwt_audience, settings.jwt_issuer) == ("bank-crm", "https://profile-idp.bank.example")


@pytest.mark.parametrize(
    ("role", "scope", "scopes"),
    [
        ("system", "events:read customers:read", {"events:read", "customers:read"}),
        ("system", ["events:read", "jobs:run"], {"events:read", "jobs:run"}),
        ("system", None, set()),
        ("staff", "events:read", set()),  # people's roles are not scoped
    ],
    ids=["space-separated", "list", "none", "staff-ignores"],
)
def test_scope_claim_string_or_list(role, scope, scopes):
    principal = TokenVerifier(BaseServiceSettings()).verify(_signed(role=role, scope=scope))
    assert principal.scopes == scopes


def test_consumer_tokens_carry_one_scope_and_the_settings_binding():
    settings = BaseServiceSettings(jwt_audience="bank-crm", jwt_issuer="https://idp.bank.example")
    verifier = TokenVerifier(settings)
    principal = verifier.verify(system_token_source(settings, "loyalty-consumer")())
    assert (principal.role, principal.scopes) == ("system", {"events:read"})
    catalogue = verifier.verify(system_token_source(settings, "loyalty-consumer", scope="segments:read")())
    assert catalogue.scopes == {"segments:read"}


def test_a_consumer_key_grants_no_more_than_the_services_need_of_each_other():
    svc, svc_pub = pem_pair()
    verifier = TokenVerifier(
        BaseServiceSettings(
            jwt_algorithm="RS256",
            jwt_public_key=pem_pair()[1],
            jwt_service_keys=json.dumps({"loyalty-consumer": svc_pub}),
        )
    )
    greedy = mint_token(
        svc, sub="loyalty-consumer", role="system", scope=SCOPES, algorithm="RS256", kid="loyalty-consumer"
    )
    # the feeds it follows, the segments it targets, and the delivery address its delivery worker reads
    assert verifier.verify(greedy).scopes == {"events:read", "segments:read", "contacts:deliver"}


@pytest.fixture(scope="module")
def idp_keys() -> dict[str, tuple[str, str]]:
    return {kid: pem_pair() for kid in ("2026-01", "2026-07", "stranger")}


def _jwks(idp_keys, *kids: str) -> str:
    return json.dumps({"keys": [jwk(idp_keys[kid][1], kid) for kid in kids]})


def _rs256(idp_keys, kid: str | None, signer: str | None = None) -> str:
    private = idp_keys[signer or kid or "2026-01"][0]
    return mint_token(private, sub="s-1", role="staff", algorithm="RS256", kid=kid)


def test_jwks_rotation_publish_switch_retire(idp_keys, tmp_path):
    # 1. the new key is published beside the old one: tokens under either verify
    both = TokenVerifier(BaseServiceSettings(jwt_algorithm="RS256", jwt_jwks=_jwks(idp_keys, "2026-01", "2026-07")))
    assert both.verify(_rs256(idp_keys, "2026-01")).sub == "s-1"
    assert both.verify(_rs256(idp_keys, "2026-07")).sub == "s-1"
    for bad in (
        _rs256(idp_keys, "stranger"),  # a kid the set does not hold
        _rs256(idp_keys, "2026-07", signer="2026-01"),  # a published kid, but not its key
        _rs256(idp_keys, None),  # no kid, and no JWT_PUBLIC_KEY to fall back on
    ):
        assert _refusal(both, bad) == "token_invalid"
    # 2-3. the signer switched and the longest lifetime passed: the old key is removed (here from a file)
    path = tmp_path / "jwks.json"
    path.write_text(_jwks(idp_keys, "2026-07"))
    retired = TokenVerifier(BaseServiceSettings(jwt_algorithm="RS256", jwt_jwks_file=str(path)))
    assert retired.verify(_rs256(idp_keys, "2026-07")).sub == "s-1"
    assert _refusal(retired, _rs256(idp_keys, "2026-01")) == "token_invalid"


def test_jwks_beside_the_single_public_key(idp_keys):
    verifier = TokenVerifier(
        BaseServiceSettings(
            jwt_algorithm="RS256", jwt_public_key=idp_keys["stranger"][1], jwt_jwks=_jwks(idp_keys, "2026-07")
        )
    )
    assert verifier.verify(_rs256(idp_keys, "2026-07")).sub == "s-1"
    assert verifier.verify(_rs256(idp_keys, None, signer="stranger")).sub == "s-1"  # no kid: the single key
    assert _refusal(verifier, _rs256(idp_keys, "2026-01")) == "token_invalid"
    # a kid the JWKS does not hold is refused, even when the single key would verify it
    assert _refusal(verifier, _rs256(idp_keys, "retired", signer="stranger")) == "token_invalid"


def test_production_takes_a_jwks_instead_of_a_public_key(idp_keys):
    settings = BaseServiceSettings(environment="production", jwt_algorithm="RS256", jwt_jwks=_jwks(idp_keys, "2026-01"))
    assert TokenVerifier(settings).verify(_rs256(idp_keys, "2026-01")).sub == "s-1"
    with pytest.raises(ValidationError, match="jwt_public_key"):
        BaseServiceSettings(environment="production", jwt_algorithm="RS256")


@pytest.mark.parametrize(
    "jwks",
    [
        "not json",
        json.dumps({"keys": []}),
        json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h1"}]}),
        "no kid",
    ],
    ids=["garbage", "empty", "symmetric", "no-kid"],
)
def test_a_jwks_setting_that_is_not_one_stops_the_start(jwks, idp_keys):
    if jwks == "no kid":
        entry = jwk(idp_keys["2026-01"][1], "x")
        del entry["kid"]
        jwks = json.dumps({"keys": [entry]})
    with pytest.raises(ValidationError, match="JWKS"):
        BaseServiceSettings(jwt_algorithm="RS256", jwt_jwks=jwks)


def _cli(capsys, *argv: str) -> dict:
    tokens.main(list(argv))
    token = capsys.readouterr().out.strip().splitlines()[-1]
    return jwt.decode(token, DEV_JWT_SECRET, algorithms=["HS256"], audience="postal-savings-suite")


def test_cli_mints_scoped_bound_system_tokens(capsys):
    claims = _cli(capsys, "--role", "system", "--scope", "events:read customers:read", "--ttl", "600")
    assert claims["scope"] == "events:read customers:read" and claims["iss"] == "postal-savings-dev"
    assert claims["exp"] - claims["iat"] == 600
    assert set(_cli(capsys, "--role", "system")["scope"].split()) == set(SCOPES)  # development default: every one
    assert "scope" not in _cli(capsys, "--role", "staff")


@pytest.mark.parametrize(
    "argv", [["--role", "system", "--scope", "events:write"], ["--role", "staff", "--scope", "events:read"]]
)
def test_cli_refuses_unknown_scopes_and_scopes_on_people(argv, capsys):
    with pytest.raises(SystemExit):
        tokens.main(argv)
    assert "scope" in capsys.readouterr().err
