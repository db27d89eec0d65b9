"""Campaigns: creation (template variables checked), branch scope, the dry run's funnel, the launch a
supervisor approves (consent, do-not-contact, contactability, the frequency cap; service exempt from
consent and cap), outreach listing, receipts and the SMS gateway's reports: each route's success,
declared errors and roles."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from services.loyalty.models import Outreach
from tests.loyalty import factories as f
from tests.loyalty.conftest import SQLITE_ONLY

SOME = "5d1c0d7e-3f7a-4a55-9d8e-0b6a1c2d3e4f"


@pytest.fixture
def tree(loyalty_app, client):
    f.branches(loyalty_app)


def _steps(resp) -> dict[str, int]:
    assert resp.status_code == 200, resp.text
    return {s["filter"]: s["left"] for s in resp.json()["steps"]}


def test_create_reads_back_with_defaults_and_location(client, auth, tree):
    c = f.campaign(client, auth, quiet_start=None, quiet_end=None, product_code="WM-2026")
    assert (c["status"], c["branch_code"], c["created_by"]) == ("draft", "BR0001", "clerk-1")
    assert (c["quiet_start"], c["quiet_end"], c["attribution_days"]) == ("21:00", "08:00", 30)
    got = client.get(f"/v1/loyalty/campaigns/{c['id']}", headers=auth("staff"))
    assert got.status_code == 200 and got.json() == c


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"template": "您好{name}"}, "template"),
        ({"template": "余额{points_balance:>10}"}, "template"),
        ({"template": "坏模板{"}, "template"),
        ({"send_until": "2026-03-01T00:00:00Z"}, "send_until"),
        ({"audience": "customer_type:martian"}, "audience"),
        ({"channel": "fax"}, "channel"),
        ({"quiet_start": "25:00"}, "quiet_start"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_create_refuses_what_cannot_be_sent(client, auth, change, field):
    body = {
        "name": "x",
        "audience": "customer_type:individual",
        "channel": "sms",
        "purpose": "service",
        "template": "您好",
        "send_from": "2026-03-10T00:00:00Z",
        "send_until": "2026-03-20T00:00:00Z",
        **change,
    }
    resp = client.post("/v1/loyalty/campaigns", json=body, headers=auth("staff"))
    assert resp.status_code == 422, resp.text
    assert field in str([e["loc"] for e in resp.json()["errors"]])


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/v1/loyalty/campaigns"),
        ("get", "/v1/loyalty/campaigns"),
        ("get", f"/v1/loyalty/campaigns/{SOME}"),
        ("post", f"/v1/loyalty/campaigns/{SOME}/dry-run"),
        ("post", f"/v1/loyalty/campaigns/{SOME}/launch"),
        ("get", f"/v1/loyalty/campaigns/{SOME}/outreach"),
    ],
)
@pytest.mark.parametrize(("role", "status"), [(None, 401), ("customer", 403), ("system", 403)])
def test_campaign_routes_are_for_staff(client, auth, method, path, role, status):
    headers = auth(role) if role else {}
    resp = getattr(client, method)(path, headers=headers, **({"json": {}} if method == "post" else {}))
    assert resp.status_code == status, resp.text


def test_staff_without_a_branch_cannot_speak_for_the_whole_bank(client, auth):
    body = {"name": "x", "audience": "customer_type:individual", "channel": "sms", "purpose": "service",
            "template": "您好", "send_from": "2026-03-10T00:00:00Z", "send_until": "2026-03-20T00:00:00Z"}  # fmt: skip
    resp = client.post("/v1/loyalty/campaigns", json=body, headers=auth("staff", branch=None))
    assert resp.status_code == 403 and resp.json()["code"] == "branch_required"


def test_staff_see_their_subtrees_campaigns_only(client, auth, tree):
    mine = f.campaign(client, auth)
    theirs = f.campaign(client, auth, sub="clerk-9")
    other = client.post(
        "/v1/loyalty/campaigns",
        json={
            **{k: mine[k] for k in ("name", "audience", "channel", "purpose", "template", "send_from", "send_until")}
        },
        headers=auth("staff", branch="BR0002"),
    )
    assert other.status_code == 201
    listed = client.get("/v1/loyalty/campaigns", headers=auth("staff")).json()["items"]
    assert {c["id"] for c in listed} == {mine["id"], theirs["id"]}
    assert client.get(f"/v1/loyalty/campaigns/{mine['id']}", headers=auth("staff", branch="BR0002")).status_code == 404
    assert client.post(
        f"/v1/loyalty/campaigns/{mine['id']}/dry-run", headers=auth("staff", branch="BR0002")
    ).status_code == 404  # fmt: skip
    everything = client.get("/v1/loyalty/campaigns", headers=auth("admin")).json()["items"]
    assert len(everything) == 3
    drafts = client.get("/v1/loyalty/campaigns", params={"status": "launched"}, headers=auth("admin"))
    assert drafts.json()["items"] == []


def _population(app, loyalty_db, now) -> dict[str, str]:
    """One customer stopped by each filter, one who passes, one beyond the branch and one of another class."""
    people = {
        "passes": f.reachable(app),
        "no_consent_record": f.reachable(app, consent=False),
        "do_not_contact": f.reachable(app, do_not_contact=True, marketing=()),
        "service_only": f.reachable(app, marketing=(), reachable=("app_push",)),
        "no_contact_point": f.reachable(app, marketing=(), reachable=("sms",)),
        "capped": f.reachable(app),
        "other_branch": f.reachable(app, branch="BR0002"),
        "other_class": f.reachable(app, segment="customer_type:enterprise"),
    }
    with loyalty_db.write() as s:
        earlier = _earlier_campaign(s, now)
        rows = [
            {"campaign_id": earlier, "customer_id": uuid.UUID(people["capped"]), "channel": "sms",
             "purpose": "marketing", "state": "sent", "attempts": 1, "next_attempt_at": now, "queued_at": at,
             "updated_at": at, "sent_at": at}
            for at in (now - timedelta(days=2),)
        ]  # fmt: skip
        s.execute(insert(Outreach), rows)
        s.commit()
    return people


def _earlier_campaign(s, now) -> uuid.UUID:
    from services.loyalty.models import Campaign

    c = Campaign(
        name="earlier",
        audience="customer_type:individual",
        channel="sms",
        purpose="marketing",
        template="x",
        attribution_days=30,
        send_from=now - timedelta(days=3),
        send_until=now,
        quiet_start="00:00",
        quiet_end="00:00",
        branch_code="BR0001",
        status="launched",
        created_by="x",
    )
    s.add(c)
    s.flush()
    return c.id


def test_dry_run_counts_what_each_filter_leaves(client, auth, tree, loyalty_app, loyalty_db, clock):
    _population(loyalty_app, loyalty_db, clock())
    marketing = f.campaign(client, auth)
    steps = _steps(client.post(f"/v1/loyalty/campaigns/{marketing['id']}/dry-run", headers=auth("staff")))
    # 6 in BR0001's subtree and class; consent: passes + capped; the cap (1 in 7 days) does not stop capped yet
    assert steps == {"audience": 6, "do_not_contact": 5, "consent": 2, "contactability": 2, "frequency_cap": 2}
    service = f.campaign(client, auth, purpose="service")
    steps = _steps(client.post(f"/v1/loyalty/campaigns/{service['id']}/dry-run", headers=auth("staff")))
    assert steps == {"audience": 6, "do_not_contact": 5, "consent": 5, "contactability": 3, "frequency_cap": 3}
    whole_bank = f.campaign(client, auth, role="admin", sub="root")
    assert _steps(client.post(f"/v1/loyalty/campaigns/{whole_bank['id']}/dry-run", headers=auth("admin")))[
        "audience"
    ] == 7  # fmt: skip


def test_launch_waits_for_another_supervisor_then_queues_the_filtered_audience(
    client, auth, tree, loyalty_app, loyalty_db, clock
):
    people = _population(loyalty_app, loyalty_db, clock())
    with loyalty_db.write() as s:  # a second recent marketing contact: the cap (2 in 7 days) now stops them
        s.execute(
            insert(Outreach),
            [{"campaign_id": _earlier_campaign(s, clock()), "customer_id": uuid.UUID(people["capped"]),
              "channel": "sms", "purpose": "marketing", "state": "delivered", "attempts": 1,
              "next_attempt_at": clock(), "queued_at": clock(), "updated_at": clock()}],
        )  # fmt: skip
        s.commit()
    c = f.campaign(client, auth)
    asked = client.post(f"/v1/loyalty/campaigns/{c['id']}/launch", headers=auth("staff", sub="clerk-1"))
    assert asked.status_code == 202, asked.text
    assert (asked.json()["action"], asked.json()["why"], asked.json()["status"]) == (
        "campaign.launch", "launch", "pending"
    )  # fmt: skip
    again = client.post(f"/v1/loyalty/campaigns/{c['id']}/launch", headers=auth("staff", sub="clerk-1"))
    assert again.status_code == 409 and again.json()["code"] == "approval_pending"
    own = client.post(f"/v1/loyalty/approvals/{asked.json()['id']}/approve", headers=auth("supervisor", sub="clerk-1"))
    assert own.status_code == 403 and own.json()["code"] == "maker_cannot_decide"
    assert client.get(f"/v1/loyalty/campaigns/{c['id']}", headers=auth("staff")).json()["status"] == "draft"

    done = client.post(f"/v1/loyalty/approvals/{asked.json()['id']}/approve", headers=auth("supervisor", sub="boss"))
    assert done.status_code == 200 and done.json()["queued"] == 1
    read = client.get(f"/v1/loyalty/campaigns/{c['id']}", headers=auth("staff")).json()
    assert (read["status"], read["launched_by"]) == ("launched", "boss")
    assert read["funnel"]["frequency_cap"] == 1 and read["funnel"]["contactability"] == 2
    outreach = client.get(f"/v1/loyalty/campaigns/{c['id']}/outreach", headers=auth("staff")).json()["items"]
    assert [(o["customer_id"], o["state"]) for o in outreach] == [(people["passes"], "queued")]
    relaunch = client.post(f"/v1/loyalty/campaigns/{c['id']}/launch", headers=auth("staff", sub="clerk-1"))
    assert relaunch.status_code == 409 and relaunch.json()["code"] == "campaign_not_draft"
    feed = client.get("/v1/events", headers=auth("system")).json()["items"]
    launched = [e for e in feed if e["type"] == "campaign.launched"]
    assert launched[0]["data"]["queued"] == 1 and launched[0]["subject_id"] == c["id"]


def test_launch_refuses_a_campaign_whose_window_passed(client, auth, tree, clock):
    c = f.campaign(client, auth)
    clock.advance(days=11)
    resp = client.post(f"/v1/loyalty/campaigns/{c['id']}/launch", headers=auth("staff"))
    assert resp.status_code == 409 and resp.json()["code"] == "campaign_window_closed"
    missing = client.post(f"/v1/loyalty/campaigns/{uuid.uuid4()}/launch", headers=auth("staff"))
    assert missing.status_code == 404 and missing.json()["code"] == "campaign_not_found"


def test_an_approval_after_the_window_closed_leaves_the_request_pending(client, auth, tree, clock):
    c = f.campaign(client, auth, send_until="2026-03-11T00:00:00Z")
    asked = client.post(f"/v1/loyalty/campaigns/{c['id']}/launch", headers=auth("staff", sub="clerk-1"))
    clock.advance(days=1)
    late = client.post(f"/v1/loyalty/approvals/{asked.json()['id']}/approve", headers=auth("supervisor", sub="boss"))
    assert late.status_code == 409 and late.json()["code"] == "campaign_window_closed"
    assert client.get(f"/v1/loyalty/campaigns/{c['id']}", headers=auth("staff")).json()["status"] == "draft"


def _one_outreach(client, auth, loyalty_app) -> tuple[str, dict]:
    cid = f.reachable(loyalty_app)
    c = f.campaign(client, auth)
    f.launched(client, auth, c["id"])
    [row] = client.get(f"/v1/loyalty/campaigns/{c['id']}/outreach", headers=auth("staff")).json()["items"]
    return cid, row


def test_customer_reads_own_outreach_and_reports_receipts(client, auth, tree, loyalty_app):
    cid, row = _one_outreach(client, auth, loyalty_app)
    mine = client.get("/v1/loyalty/outreach", params={"customer_id": cid}, headers=auth("customer", sub=cid))
    assert [o["id"] for o in mine.json()["items"]] == [row["id"]]
    other = client.get("/v1/loyalty/outreach", params={"customer_id": cid}, headers=auth("customer"))
    assert other.status_code == 404
    staff = client.get("/v1/loyalty/outreach", params={"customer_id": cid}, headers=auth("staff"))
    assert [o["id"] for o in staff.json()["items"]] == [row["id"]]
    far = client.get("/v1/loyalty/outreach", params={"customer_id": cid}, headers=auth("staff", branch="BR0002"))
    assert far.status_code == 404 and far.json()["code"] == "customer_not_found"  # out of that branch's reach

    url = f"/v1/loyalty/outreach/{row['id']}/receipts"
    assert client.post(url, json={"state": "delivered"}, headers=auth("customer")).status_code == 404
    delivered = client.post(url, json={"state": "delivered"}, headers=auth("customer", sub=cid))
    assert delivered.status_code == 200 and delivered.json()["state"] == "delivered"
    opened = client.post(url, json={"state": "opened"}, headers=auth("customer", sub=cid))
    assert opened.json()["state"] == "opened" and opened.json()["opened_at"] is not None
    late = client.post(url, json={"state": "delivered"}, headers=auth("customer", sub=cid))
    assert late.status_code == 200 and late.json()["state"] == "opened"  # never backwards
    forbidden = client.post(url, json={"state": "delivered"}, headers=auth("staff"))
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "receipt_forbidden"
    assert client.post(url, json={"state": "responded"}, headers=auth("staff", branch="BR0002")).status_code == 404
    answered = client.post(url, json={"state": "responded"}, headers=auth("staff"))
    assert answered.status_code == 200 and answered.json()["state"] == "responded"
    assert client.post(url, json={"state": "converted"}, headers=auth("staff")).status_code == 422
    assert (
        client.post("/v1/loyalty/outreach/999999/receipts", json={"state": "opened"}, headers=auth("staff")).status_code
        == 404
    )
    assert client.post(url, json={"state": "opened"}, headers=auth("system")).status_code == 403
    assert client.post(url, json={"state": "opened"}).status_code == 401
    changed = [
        e for e in client.get("/v1/events", headers=auth("system")).json()["items"] if e["type"] == "outreach.changed"
    ]
    assert [e["data"]["state"] for e in changed] == ["delivered", "opened", "responded"]


def test_sms_reports_move_the_record(client, auth, tree, loyalty_app, loyalty_db):
    cid = f.reachable(loyalty_app, marketing=("sms",))
    c = f.campaign(client, auth, channel="sms")
    f.launched(client, auth, c["id"])
    with loyalty_db.write() as s:
        row = s.execute(select(Outreach).where(Outreach.customer_id == uuid.UUID(cid))).scalar_one()
        row.state, row.provider_ref = "sent", f"outreach-{row.id}"
        s.commit()
        ref = row.provider_ref
    url = "/v1/loyalty/delivery-receipts/sms"
    assert client.post(url, json={"reference": ref, "status": "delivered"}, headers=auth("staff")).status_code == 403
    scoped = auth("system", scope="events:read")
    assert client.post(url, json={"reference": ref, "status": "delivered"}, headers=scoped).status_code == 403
    system = auth("system", scope="deliveries:report")
    assert client.post(url, json={"reference": "nope", "status": "delivered"}, headers=system).status_code == 404
    assert client.post(url, json={"reference": ref, "status": "lost"}, headers=system).status_code == 422
    assert client.post(url, json={"reference": ref, "status": "delivered"}, headers=system).status_code == 204
    assert client.post(url, json={"reference": ref, "status": "undelivered"}, headers=system).status_code == 204
    state = client.get("/v1/loyalty/outreach", params={"customer_id": cid}, headers=auth("staff")).json()["items"][0]
    assert state["state"] == "delivered"  # a late failure report does not undo a delivery


def test_an_undelivered_sms_fails_the_record(client, auth, tree, loyalty_app, loyalty_db):
    cid = f.reachable(loyalty_app, marketing=("sms",))
    c = f.campaign(client, auth, channel="sms")
    f.launched(client, auth, c["id"])
    with loyalty_db.write() as s:
        row = s.execute(select(Outreach).where(Outreach.customer_id == uuid.UUID(cid))).scalar_one()
        row.state, row.provider_ref = "sent", "ref-1"
        s.commit()
    system = auth("system", scope="deliveries:report")
    resp = client.post(
        "/v1/loyalty/delivery-receipts/sms", json={"reference": "ref-1", "status": "undelivered"}, headers=system
    )
    assert resp.status_code == 204
    state = client.get("/v1/loyalty/outreach", params={"customer_id": cid}, headers=auth("staff")).json()["items"][0]
    assert (state["state"], state["failure_reason"]) == ("failed", "sms_undelivered")


def test_buying_the_promoted_product_converts_the_outreach(client, auth, tree, loyalty_app, loyalty_db, clock):
    cid, row = _one_outreach(client, auth, loyalty_app)
    with loyalty_db.write() as s:
        r = s.get(Outreach, row["id"])
        r.state, r.sent_at = "delivered", clock()
        from services.loyalty.models import Campaign

        s.get(Campaign, uuid.UUID(row["campaign_id"])).product_code = "WM-2026"
        s.commit()

    def holding(code: str, opened_on: str) -> None:
        data = {"holding_id": str(uuid.uuid4()), "product_code": code, "category": "wealth", "status": "held",
                "opened_on": opened_on, "matures_on": None, "closed_on": None}  # fmt: skip
        f.consumer(loyalty_app).apply([f.event("holding.changed", cid, data)])

    holding("other-product", "2026-03-11")
    holding("WM-2026", "2026-03-01")  # bought before the message
    got = client.get("/v1/loyalty/outreach", params={"customer_id": cid}, headers=auth("staff")).json()["items"][0]
    assert got["state"] == "delivered"
    holding("WM-2026", "2026-03-12")
    got = client.get("/v1/loyalty/outreach", params={"customer_id": cid}, headers=auth("staff")).json()["items"][0]
    assert got["state"] == "converted" and got["converted_at"] is not None
