"""Bank systems subscribe with their own credentials, against a nats-server running the repository's
own accounts file (deploy/k8s/nats/accounts.conf): profile's relay publishes with profile's user, the
operator grants the CRM system its scope, the example subscriber reads exactly that scope's events,
and the system's user can neither widen its filter nor read another consumer."""

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import nats
import pytest
from sqlalchemy import MetaData

from services.common import subscriptions
from services.common.db import Database
from services.common.jetstream import Transport
from services.common.outbox import outbox_table, record_event
from services.common.relay import OutboxRelay
from tests import natskit

pytestmark = pytest.mark.nats
ROOT = Path(__file__).parents[2]
ACCOUNTS = ROOT / "deploy" / "k8s" / "nats" / "accounts.conf"
USERS = ("profile", "segmentation", "feedback", "loyalty", "operator", "bank_crm")
PASSWORDS = {f"{u.upper()}_NATS_PASSWORD": f"pw-{u}" for u in USERS}


@pytest.fixture
def server(tmp_path):
    with natskit.private_server(tmp_path, ACCOUNTS.read_text(), env=PASSWORDS) as url:
        yield url.removeprefix("nats://")


def url_for(host: str, user: str) -> str:
    return f"nats://{user}:pw-{user.replace('-', '_')}@{host}"


def profile_outbox(tmp_path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'profile.db'}")
    table = outbox_table(MetaData())
    table.metadata.create_all(db.engine)
    with db.write() as s:
        for i in range(6):
            kind = "customer.registered" if i % 2 == 0 else "transaction.recorded"
            record_event(s, table, type=kind, subject_id=f"c{i}", data={"n": i})
        s.commit()
    return db


async def _grant(url: str, system: str, scope: str) -> None:
    nc = await nats.connect(url)
    try:
        await subscriptions.grant(nc.jetstream(), Transport(url=url), system, scope, from_start=True)
    finally:
        await nc.close()


def relay_all(db: Database, url: str) -> None:
    relay = OutboxRelay(service="profile", db=db, transport=Transport(url=url, lease_seconds=2), recheck_seconds=0.2)
    relay.start()
    try:
        wait_for(lambda: relay.mark == 6)
    finally:
        relay.stop()


def wait_for(check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_bank_system_reads_its_scope_with_its_own_user_and_nothing_more(server, tmp_path):
    db = profile_outbox(tmp_path)
    relay_all(db, url_for(server, "profile"))  # the service's user may relay its own outbox
    asyncio.run(_grant(url_for(server, "operator"), "crm", "customers"))
    asyncio.run(_grant(url_for(server, "operator"), "crm", "transactions"))  # not in bank-crm's permissions
    done = subprocess.run(
        [sys.executable, "-m", "services.common.examples.subscribe", "--url", url_for(server, "bank-crm")]
        + ["--system", "crm", "--scope", "customers", "--max", "3", "--idle-exit", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["event"]["type"] for line in lines] == ["customer.registered"] * 3
    assert [line["event"]["subject_id"] for line in lines] == ["c0", "c2", "c4"]
    assert all(line["subject"].startswith("suite.profile.") for line in lines)

    refusals: list[str] = []

    async def refused(err: Exception) -> None:
        refusals.append(str(err))

    async def overreach(action: str) -> None:
        nc = await nats.connect(url_for(server, "bank-crm"), inbox_prefix=b"_INBOX_bank-crm", error_cb=refused)
        try:
            js = nc.jetstream(timeout=2)
            if action == "create":  # its own consumer over the whole stream
                await js.add_consumer("SUITE_PROFILE", durable_name="mine", filter_subject="suite.profile.>")
            else:  # a consumer granted for a scope it does not hold
                sub = await js.pull_subscribe_bind("bank-crm-transactions", stream="SUITE_PROFILE")
                await sub.fetch(1, timeout=2)
        finally:
            await nc.close()

    for action in ("create", "other"):
        refusals.clear()
        with pytest.raises((nats.errors.TimeoutError, nats.js.errors.Error)):
            asyncio.run(overreach(action))
        assert any("permissions violation" in r.lower() for r in refusals), (action, refusals)
    db.dispose()


def test_grant_prints_the_user_entry_for_the_accounts_file():
    entry = subscriptions.user_permissions(Transport(url="nats://x"), "crm", ["customers"])
    assert entry["user"] == "bank-crm" and entry["password"] == "$BANK_CRM_NATS_PASSWORD"
    text = ACCOUNTS.read_text()
    for subject in entry["permissions"]["publish"]["allow"] + entry["permissions"]["subscribe"]["allow"]:
        assert f'"{subject}"' in text  # the example user in deploy/ is exactly what grant prints
    assert subscriptions.filter_subject(Transport(url="nats://x"), "customers") == "suite.profile.*.customer.>"
