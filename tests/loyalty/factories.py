"""Plain factory functions for loyalty tests: accounts with points, rules, rewards, feed events."""

import itertools
import uuid
from datetime import datetime

from services.common.outbox import Event
from services.loyalty.consumers import LoyaltyConsumer
from tests.organisation import HOME_OUTLET, place_customer

_pos = itertools.count(1)


def enrol(client, auth, customer_id: str | None = None, branch_code: str = HOME_OUTLET) -> str:
    """An account for a customer loyalty knows at `branch_code` (within the default staff token's reach)."""
    customer_id = customer_id or str(uuid.uuid4())
    place_customer("loyalty", client.app.state.db, customer_id, branch_code)
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


def registered(branch_code: str) -> dict:
    """The data of profile's customer.registered for a customer of `branch_code`."""
    return {
        "customer_no": "C0000000001",
        "type": "individual",
        "region_type": "urban",
        "province": "北京市",
        "city": "北京市",
        "branch_code": branch_code,
        "status": "active",
    }


def branches(app) -> None:
    """Loyalty's copy of the tree: the head office, BR0001 (the default staff token's) with the outlet
    BJ0001 below it, and BR0002 beside it."""
    tree = [
        ("HQ0001", "head_office", None),
        ("BR0001", "city", "HQ0001"),
        ("BJ0001", "outlet", "BR0001"),
        ("BR0002", "city", "HQ0001"),
    ]
    consumer(app).apply(
        [
            event(
                "branch.created",
                code,
                {"code": code, "name": code, "level": level, "parent_code": parent, "status": "open", "version": 1},
            )
            for code, level, parent in tree
        ]
    )


def reachable(
    app,
    *,
    branch: str = "BJ0001",
    segment: str = "customer_type:individual",
    marketing: tuple[str, ...] = ("app_push",),
    reachable: tuple[str, ...] | None = None,
    do_not_contact: bool = False,
    consent: bool = True,
) -> str:
    """A customer as profile's and segmentation's feeds describe one: registered at `branch`, in the
    `segment` class, and (with `consent`) a consent.changed naming the channels marketing may use and
    those a contact point reaches. Returns the customer id."""
    cid = str(uuid.uuid4())
    scheme, _, cls = segment.rpartition(":")
    events = [
        event(
            "customer.registered",
            cid,
            {
                "customer_no": "C1",
                "type": "individual",
                "region_type": "urban",
                "province": "北京",
                "city": "北京",
                "branch_code": branch,
                "status": "active",
            },
        ),  # fmt: skip
    ]
    if consent:
        events.append(
            event(
                "consent.changed",
                cid,
                {
                    "channel": None,
                    "purpose": "marketing",
                    "status": None,
                    "do_not_contact": do_not_contact,
                    "contactable_channels": list(marketing),
                    "reachable_channels": list(reachable if reachable is not None else marketing),
                },
            )
        )
    consumer(app).apply(events)
    consumer(app, "segmentation").apply(
        [
            event(
                "segment.changed",
                cid,
                {"scheme": scheme, "from_class": None, "to_class": cls, "changed_at": "2026-03-10T02:00:00Z"},
            )
        ]  # fmt: skip
    )
    return cid


def campaign(client, auth, role: str = "staff", sub: str = "clerk-1", **overrides) -> dict:
    body = {
        "name": "春季理财推介",
        "audience": "customer_type:individual",
        "channel": "app_push",
        "purpose": "marketing",
        "template": "尊敬的客户，您的积分余额为{points_balance}，活动截至{send_until_date}。",
        "send_from": "2026-03-10T00:00:00Z",
        "send_until": "2026-03-20T00:00:00Z",
        "quiet_start": "00:00",
        "quiet_end": "00:00",
    }
    body.update(overrides)
    resp = client.post("/v1/loyalty/campaigns", json=body, headers=auth(role, sub=sub))
    assert resp.status_code == 201, resp.text
    return resp.json()


def launched(client, auth, campaign_id: str) -> dict:
    """Asks for the launch as the maker and approves it as another supervisor; the approval's answer."""
    asked = client.post(f"/v1/loyalty/campaigns/{campaign_id}/launch", headers=auth("staff", sub="clerk-1"))
    assert asked.status_code == 202, asked.text
    done = client.post(f"/v1/loyalty/approvals/{asked.json()['id']}/approve", headers=auth("supervisor", sub="boss-2"))
    assert done.status_code == 200, done.text
    return done.json()
