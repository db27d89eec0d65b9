"""A feed owner that shuts down answers its held long polls at once (an empty page) instead of
holding its shutdown for them until uvicorn's graceful timeout cuts them off."""

import threading
import time

import httpx
import pytest

from services.common.auth import mint_token
from services.common.config import DEV_JWT_SECRET
from tests.e2e.conftest import Process, base_env, migrate_service

pytestmark = pytest.mark.e2e


def test_held_long_poll_is_answered_when_the_owner_stops(tmp_path):
    url = f"sqlite:///{tmp_path / 'profile.db'}"
    migrate_service("profile", url)
    env = base_env(PROFILE_DATABASE_URL=url, PROFILE_ENVIRONMENT="test", PROFILE_JWT_SECRET=DEV_JWT_SECRET)
    profile = Process("profile", "services.profile.app:create_app", env, tmp_path / "profile.log")
    token = mint_token(DEV_JWT_SECRET, sub="test-consumer", role="system", scope="events:read")
    answers: list[httpx.Response | Exception] = []

    def hold() -> None:
        try:
            answers.append(
                httpx.get(
                    f"{profile.url}/v1/events",
                    params={"after": 0, "wait": 30},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=60,
                )
            )
        except httpx.HTTPError as err:
            answers.append(err)

    profile.spawn()
    try:
        profile.wait_live()
        poll = threading.Thread(target=hold)
        poll.start()
        time.sleep(0.5)  # the poll is held now
    finally:
        profile.stop()  # SIGTERM; the suite's servers give in-flight requests 2 s
    poll.join(60)
    [answer] = answers
    assert isinstance(answer, httpx.Response), answer  # answered, not cut off
    assert answer.status_code == 200 and answer.json()["items"] == []
