"""Leases and the broker worker's retries, against the real NATS server: a claim that races a lease's
expiry (or its release marker's) takes the lease or leaves it, and never ends the session that asked;
the backoff after a long healthy session starts again from its first step."""

import asyncio
import time

import nats
import pytest

from services.common.jetstream import BrokerWorker, Leases, backoff, bucket
from tests import natskit

pytestmark = pytest.mark.nats
KEYS = 24


async def _claim_as_leases_lapse(url: str, name: str, release: bool) -> tuple[int, list[str]]:
    """Replica `a` takes KEYS leases (and releases them when `release`, leaving markers that lapse too);
    `b` claims them as fast as it can until each is its own. Returns how many `b` won, and the errors."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        kv = await bucket(js, name, ttl=0.5)
        a, b = Leases(kv, "a"), Leases(kv, "b")
        keys = [f"reader.p{k}" for k in range(KEYS)]
        for key in keys:
            assert await a.claim(key)
        if release:
            for key in keys:
                await a.release(key)
        errors: list[str] = []
        deadline = time.monotonic() + 10
        while len(b.held) < KEYS and time.monotonic() < deadline:
            for key in keys:
                if key not in b.held:
                    try:
                        await b.claim(key)
                    except Exception as err:  # noqa: BLE001 - what the test counts
                        errors.append(type(err).__name__)
        return len(b.held), errors
    finally:
        await nc.close()


@pytest.mark.parametrize("release", [False, True], ids=["lapsed", "released"])
def test_a_claim_racing_a_lapsing_lease_takes_it_and_never_raises(release):
    natskit.require_nats()
    t = natskit.transport()
    try:
        won, errors = asyncio.run(_claim_as_leases_lapse(t.url, t.lease_bucket, release))
    finally:
        natskit.drop(t)
    assert errors == []
    assert won == KEYS


def test_a_claim_on_a_live_lease_is_refused_and_its_holder_renews():
    natskit.require_nats()
    t = natskit.transport()

    async def run() -> tuple[bool, bool, bool]:
        nc = await nats.connect(t.url)
        try:
            kv = await bucket(nc.jetstream(), t.lease_bucket, ttl=5)
            a, b = Leases(kv, "a"), Leases(kv, "b")
            assert await a.claim("reader.p0")
            return await b.claim("reader.p0"), await a.renew("reader.p0"), await b.renew("reader.p0")
        finally:
            await nc.close()

    try:
        assert asyncio.run(run()) == (False, True, False)
    finally:
        natskit.drop(t)


class _Failing(BrokerWorker):
    """Sessions that fail at once, but for the fourth, which runs past settled_seconds first."""

    settled_seconds = 0.2

    def __init__(self) -> None:
        super().__init__()
        self.sessions = 0
        self.seen: list[int] = []

    async def session(self) -> None:
        self.sessions += 1
        if self.sessions == 4:
            await asyncio.sleep(0.3)
        raise ConnectionError("broker gone")

    def failed(self, err: Exception, failures: int) -> None:
        self.seen.append(failures)
        if len(self.seen) == 6:
            self._stop.set()

    async def pause(self, seconds: float) -> None:
        return None


def test_the_backoff_after_a_settled_session_starts_from_its_first_step():
    worker = _Failing()
    worker.run()
    assert worker.seen == [1, 2, 3, 1, 2, 3]
    assert [backoff(n) for n in (1, 2, 3, 7)] == [0.5, 1.0, 2.0, 10.0]
