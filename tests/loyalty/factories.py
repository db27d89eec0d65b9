"""Plain factory functions for loyalty tests: accounts with points, rules, rewards, feed events."""

import itertools
import uuid
from datetime import datetime

from services.common.outbox import Event
from services.loyalty.consumers import LoyaltyConsumer

_pos = itertools.count(1)


def enrol(client, auth, customer_id: str | None = None) -> str:
    customer_id = customer_id or str(uuid.uuid4())
    resp = client.post("/v1/loyalty/accounts", json={"customer_id": customer_id}, headers=auth("staff"))
    assert resp.status_code == 201, resp.text
    return customer_id


def give(client, auth, customer_id: str, points: int) -> dict:
    resp = client.post(
        f"/v1/loyalty/accounts/{customer_id}/adjustments",
        headers=auth("supervisor"),
        json={"points": points, "reason": "welcome bonus"},
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def funded(client, auth, points: int) -> str:
    cid = enrol(client, auth)
    if points:
        give(client, auth, cid, points)
    return cid


def balance(client, auth, customer_id: str) -> int:
    return client.get(f"/v1/loyalty/accounts/{customer_id}", headers=auth("staff")).json()["balance"]


def rule(client, auth, **overrides) -> dict:
    body = {
        "code": f"r-{uuid.uuid4().hex[:8]}",
        "name": "deposits",
        "kind": "deposit",
        "points_per_100_cny": 10,
        "valid_from": "2026-01-01T00:00:00Z",
    }
    body.update(overrides)
    resp = client.post("/v1/loyalty/rules", json=body, headers=auth("supervisor"))
    assert resp.status_code == 201, resp.text
    return resp.json()


def reward(client, auth, **overrides) -> dict:
    body = {
        "code": f"g-{uuid.uuid4().hex[:8]}",
        "name": "umbrella",
        "type": "gift",
        "points_price": 100,
        "stock": 10,
        "active_from": "2026-01-01T00:00:00Z",
    }
    body.update(overrides)
    resp = client.post("/v1/loyalty/rewards", json=body, headers=auth("supervisor"))
    assert resp.status_code == 201, resp.text
    return resp.json()


def redeem(client, headers, customer_id: str, reward_id: str, **extra):
    return client.post(
        "/v1/loyalty/redemptions", json={"customer_id": customer_id, "reward_id": reward_id, **extra}, headers=headers
    )


def event(etype: str, subject: str, data: dict, position: int | None = None) -> Event:
    return Event(
        position=position or next(_pos),
        event_id=str(uuid.uuid4()),
        type=etype,
        occurred_at="2026-03-10T02:00:00Z",
        subject_id=subject,
        data=data,
    )


def txn(
    subject: str,
    amount_fen: int,
    *,
    kind: str = "deposit",
    channel: str = "counter",
    occurred_at: datetime | str = "2026-03-10T02:00:00Z",
    external_id: str | None = None,
    reverses: str | None = None,
    position: int | None = None,
    initiated: bool = False,
) -> Event:
    external_id = external_id or f"EXT{uuid.uuid4().hex[:10]}"
    at = occurred_at.isoformat() if isinstance(occurred_at, datetime) else occurred_at
    return event(
        "transaction.recorded",
        subject,
        {
            "transaction_id": str(uuid.uuid4()),
            "external_id": external_id,
            "kind": kind,
            "amount": f"{amount_fen // 100}.{amount_fen % 100:02d}",
            "amount_fen": amount_fen,
            "channel": channel,
            "occurred_at": at,
            "customer_initiated": initiated,
            "reverses_external_id": reverses,
        },
        position,
    )


def consumer(app, feed: str = "profile", db=None) -> LoyaltyConsumer:
    return LoyaltyConsumer(
        feed=feed, policy=app.state.policy, db=db or app.state.db, client=None, feed_url="", token=lambda: ""
    )


def retire_reward(client, auth, reward_id: str, version: int = 1) -> dict:
    """Retires a reward under dual control: one supervisor asks, another approves."""
    asked = client.patch(
        f"/v1/loyalty/rewards/{reward_id}",
        json={"is_retired": True},
        headers={**auth("supervisor", sub="boss-maker"), "If-Match": f'"{version}"'},
    )
    assert asked.status_code == 202, asked.text
    done = client.post(f"/v1/loyalty/approvals/{asked.json()['id']}/approve", headers=auth("supervisor", sub="boss-2"))
    assert done.status_code == 200, done.text
    return done.json()
