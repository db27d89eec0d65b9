"""The production configuration's feeds authenticate: profile and loyalty as real processes under
RS256, people's tokens signed by an identity provider's key, and loyalty's consumer presenting system
tokens signed with its own consumer key, whose public half profile trusts. A signed agreement on
profile's feed opens the points account in loyalty; loyalty's key cannot mint anything but its own
system token; a consumer whose key profile does not trust is refused, counted as `auth`, and stays
unready."""

import json
import time

import httpx
import pytest

from services.common.auth import mint_token
from tests.e2e.conftest import Process, base_env, migrate_service
from tests.e2e.test_gateway_profile import REGISTRATION
from tests.rsa_keys import pem_pair

pytestmark = pytest.mark.e2e


@pytest.fixture
def rs256_suite(tmp_path):
    idp_private, idp_public = pem_pair()
    loyalty_private, loyalty_public = pem_pair()
    stranger_private, _ = pem_pair()
    dbs = {name: f"sqlite:///{tmp_path / name}.db" for name in ("profile", "loyalty")}
    for name, url in dbs.items():
        migrate_service(name, url)
    profile = Process(
        "profile",
        "services.profile.app:create_app",
        base_env(
            PROFILE_DATABASE_URL=dbs["profile"],
            PROFILE_ENVIRONMENT="test",
            PROFILE_LOG_LEVEL="WARNING",
            PROFILE_JWT_ALGORITHM="RS256",
            PROFILE_JWT_PUBLIC_KEY=idp_public,
            PROFILE_JWT_SERVICE_KEYS=json.dumps({"loyalty-consumer": loyalty_public}),
        ),
        tmp_path / "profile.log",
    )

    def loyalty(signing_key: str, log: str) -> Process:
        return Process(
            "loyalty",
            "services.loyalty.app:create_app",
            base_env(
                LOYALTY_DATABASE_URL=dbs["loyalty"],
                LOYALTY_ENVIRONMENT="test",
                LOYALTY_LOG_LEVEL="WARNING",
                LOYALTY_JWT_ALGORITHM="RS256",
                LOYALTY_JWT_PUBLIC_KEY=idp_public,
                LOYALTY_CONSUMER_SIGNING_KEY=signing_key,
                LOYALTY_PROFILE_FEED_URL=f"{profile.url}/v1/events",
                LOYALTY_SEGMENTATION_FEED_URL="",
                LOYALTY_FEEDBACK_FEED_URL="",
                LOYALTY_FEED_IDLE_SECONDS="0.2",
                LOYALTY_CONSUMER_MAX_SILENCE_SECONDS="2",
            ),
            tmp_path / log,
        )

    procs = [profile]
    try:
        profile.spawn()
        profile.wait_live()
        yield profile, loyalty, procs, idp_private, loyalty_private, stranger_private
    finally:
        for p in reversed(procs):
            p.stop()


def _start(procs: list[Process], proc: Process) -> Process:
    procs.append(proc)
    proc.spawn()
    proc.wait_live()
    return proc


def test_consumer_authenticates_with_its_own_key_and_events_flow(rs256_suite):
    profile, loyalty, procs, idp_key, loyalty_key, _ = rs256_suite
    consumer = _start(procs, loyalty(loyalty_key, "loyalty.log"))

    def person(role: str) -> dict[str, str]:
        token = mint_token(idp_key, sub=f"{role}-1", role=role, branch="BJ0001", algorithm="RS256")
        return {"Authorization": f"Bearer {token}"}

    with httpx.Client(base_url=profile.url, timeout=10) as prof, httpx.Client(base_url=consumer.url, timeout=10) as loy:
        cid = prof.post("/v1/customers", json=REGISTRATION, headers=person("staff")).json()["id"]
        signed = prof.post(
            f"/v1/customers/{cid}/agreements",
            json={"agreement_type": "loyalty_programme", "version": "2026.1", "channel": "counter"},
            headers=person("staff"),
        )
        assert signed.status_code == 201, signed.text
        deadline, account = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            account = loy.get(f"/v1/loyalty/accounts/{cid}", headers=person("staff"))
            if account.status_code == 200:
                break
            time.sleep(0.2)
        assert account is not None and account.status_code == 200, account.text if account else None
        assert loy.get("/health/ready").status_code == 200
        # loyalty's key mints its own system token only: posing as staff with it is refused
        kid = "loyalty-consumer"
        forged = mint_token(loyalty_key, sub=kid, role="staff", algorithm="RS256", kid=kid)
        assert prof.get(f"/v1/customers/{cid}", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
        own = mint_token(loyalty_key, sub=kid, role="system", scope="events:read", algorithm="RS256", kid=kid)
        assert prof.get("/v1/events", headers={"Authorization": f"Bearer {own}"}).status_code == 200


def test_a_consumer_key_the_owner_does_not_trust_is_refused_and_unready(rs256_suite):
    profile, loyalty, procs, _, _, stranger_key = rs256_suite
    consumer = _start(procs, loyalty(stranger_key, "stranger.log"))
    deadline, ready = time.monotonic() + 30, None
    while time.monotonic() < deadline:
        ready = httpx.get(f"{consumer.url}/health/ready", timeout=5)
        if ready.status_code == 503:
            break
        time.sleep(0.2)
    assert ready is not None and ready.status_code == 503
    assert ready.json()["checks"]["profile_feed"].endswith("(auth)")
    metrics = httpx.get(f"{consumer.url}/metrics", timeout=5).text
    line = 'feed_consumer_poll_failures_total{consumer="loyalty-profile",feed="profile",reason="auth"}'
    assert float(next(ln for ln in metrics.splitlines() if ln.startswith(line)).split()[-1]) >= 1
