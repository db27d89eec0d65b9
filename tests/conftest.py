"""Shared fixtures: tokens, settings and database factories for every service's tests."""

import os
import random
import secrets
import socket
import uuid
from collections.abc import Callable

import pytest

from services.common.auth import SCOPES, mint_token
from services.common.config import DEV_JWT_SECRET
from tests import dbkit

TEST_SECRET = DEV_JWT_SECRET


def pytest_configure(config) -> None:
    # One id per run, set before xdist starts its workers (they inherit the environment), so that
    # database names of two concurrent runs never collide.
    os.environ.setdefault("TEST_RUN_ID", "t" + secrets.token_hex(3))
    # Every peer URL a test leaves unset is derived from the ports (services.common.config.suite_port):
    # a base nobody listens on keeps tests off a development suite running on the default ports.
    for name in ("GATEWAY", "PROFILE", "SEGMENTATION", "FEEDBACK", "LOYALTY"):
        os.environ.pop(f"{name}_PORT", None)
    os.environ["SUITE_PORT_BASE"] = str(unused_port_base())


def unused_port_base() -> int:
    """A base whose five ports nothing on this machine listens on now."""
    for _ in range(100):
        base = random.randrange(20_000, 30_000)
        try:
            for port in range(base, base + 5):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free run of five loopback ports")


def pytest_sessionfinish(session, exitstatus) -> None:
    dbkit.drop_created_databases()


@pytest.fixture
def token() -> Callable[..., str]:
    """token(role, sub=None, branch=None, ttl=600, scope=None) -> a signed JWT for the test secret; a system
    token carries every scope unless `scope` names fewer."""

    def _mint(
        role: str, sub: str | None = None, branch: str | None = "BR0001", ttl: int = 600, scope: str | None = None
    ) -> str:
        sub = sub or (str(uuid.uuid4()) if role == "customer" else f"{role}-{uuid.uuid4().hex[:8]}")
        if scope is None and role == "system":
            scope = " ".join(SCOPES)
        return mint_token(TEST_SECRET, sub=sub, role=role, branch=branch, scope=scope, ttl_seconds=ttl)

    return _mint


@pytest.fixture
def auth(token) -> Callable[..., dict[str, str]]:
    """auth(role, **kw) -> an Authorization header dict."""
    return lambda role, **kw: {"Authorization": f"Bearer {token(role, **kw)}"}
