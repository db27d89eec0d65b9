"""NATS JetStream for tests: the shared server at TEST_NATS_URL (127.0.0.1:4222), or a private
nats-server on a free port with its own config. Tests needing NATS fail in CI when it is missing and
skip elsewhere (as PostgreSQL's do, tests/dbkit.py). Every stream and bucket a test makes is named
after the run (TEST_RUN_ID) and a per-test suffix, and deleted afterwards."""

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nats
import pytest

from services.common.jetstream import Transport
from tests.dbkit import IN_CI

NATS_URL = os.environ.get("TEST_NATS_URL", "nats://127.0.0.1:4222")


async def _probe(url: str) -> None:
    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0, allow_reconnect=False)
    try:
        await nc.jetstream().account_info()
    finally:
        await nc.close()


def nats_reachable(url: str = NATS_URL) -> str | None:
    """None when a JetStream server answers at `url`, else the reason."""
    try:
        asyncio.run(asyncio.wait_for(_probe(url), 5))
        return None
    except Exception as err:  # noqa: BLE001
        return f"NATS JetStream not reachable at {url}: {type(err).__name__}"


def require_nats(url: str = NATS_URL) -> None:
    reason = nats_reachable(url)
    if reason is None:
        return
    if IN_CI:
        pytest.fail(reason + " (CI must run the NATS tests)")
    pytest.skip(reason)


def require_nats_server() -> str:
    """The nats-server binary, for tests that start their own server."""
    found = shutil.which("nats-server") or next(
        (p for p in ("/usr/sbin/nats-server", "/usr/bin/nats-server") if Path(p).exists()), None
    )
    if found:
        return found
    if IN_CI:
        pytest.fail("nats-server not found (CI must run the NATS tests)")
    pytest.skip("nats-server not found")


def unique_prefix() -> str:
    return f"{os.environ.get('TEST_RUN_ID', 't')}x{uuid.uuid4().hex[:6]}".lower()


def transport(url: str = NATS_URL, **kw) -> Transport:
    return Transport(url=url, prefix=unique_prefix(), **{"lease_seconds": 2.0, **kw})


async def _drop(url: str, prefix: str) -> None:
    nc = await nats.connect(url, connect_timeout=2)
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            name = info.config.name
            if name.startswith(prefix.upper() + "_") or name.startswith(f"KV_{prefix}_"):
                await js.delete_stream(name)
    finally:
        await nc.close()


def drop(t: Transport) -> None:
    """Deletes the test's streams and buckets."""
    asyncio.run(_drop(t.url, t.prefix))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def private_server(tmp_path: Path, config: str = "", env: dict[str, str] | None = None) -> Iterator[str]:
    """A nats-server of the test's own (JetStream on, store under tmp_path); yields its URL. `config`
    is the rest of its configuration (accounts, users), whose $VARIABLES come from `env`."""
    binary = require_nats_server()
    port = free_port()
    store = tmp_path / "jetstream"
    conf = tmp_path / "nats.conf"
    conf.write_text(f'port: {port}\nhost: "127.0.0.1"\njetstream {{ store_dir: "{store}" }}\n{config}\n')
    proc = subprocess.Popen(  # noqa: S603
        [binary, "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None:
                raise RuntimeError(f"nats-server ended: {proc.stderr.read().decode() if proc.stderr else ''}")
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
