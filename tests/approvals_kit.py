"""What every service's dual-control tests check the same way (services.common.approvals): the routes'
roles and declared errors, a rejection, racing approvals executing once, expiry by the job with its
step, and each step on the feed and in the audit chain."""

import threading
import uuid

from sqlalchemy import select

from services.common.audit_chain import verify
from services.common.auth import Principal
from services.common.db import Database


def check_routes(client, auth, base: str, approval_id: str) -> None:
    """Every role the routes leave out, 401, 404 for an unknown request, 422 for a malformed one."""
    for role in ("customer", "staff", "system"):
        assert client.get(base, headers=auth(role)).status_code == 403
        assert client.post(f"{base}/{approval_id}/approve", headers=auth(role)).status_code == 403
        reject = client.post(f"{base}/{approval_id}/reject", json={"reason": "no no no"}, headers=auth(role))
        assert reject.status_code == 403
    assert client.get(f"{base}/{approval_id}", headers=auth("customer")).status_code == 403
    assert client.get(f"{base}/{approval_id}", headers=auth("staff")).status_code == 200
    assert client.get(base).status_code == 401
    missing = client.post(f"{base}/{uuid.uuid4()}/approve", headers=auth("supervisor"))
    assert missing.status_code == 404 and missing.json()["code"] == "approval_not_found"
    assert client.get(f"{base}/{uuid.uuid4()}", headers=auth("staff")).status_code == 404
    assert client.get(f"{base}/not-a-uuid", headers=auth("staff")).status_code == 422
    assert client.get(base, params={"status": "maybe"}, headers=auth("admin")).status_code == 422
    assert client.get(base, params={"action": "nope"}, headers=auth("admin")).status_code == 422
    listed = client.get(base, params={"status": "all"}, headers=auth("admin")).json()["items"]
    assert approval_id in [a["id"] for a in listed]


def check_decisions(client, auth, base: str, approval_id: str, maker: str) -> None:
    """The maker cannot decide; for another branch's supervisor the request is not there (404, as out of
    reach everywhere); a rejection needs a reason, then the request is decided (409 both ways)."""
    own = client.post(f"{base}/{approval_id}/approve", headers=auth("supervisor", sub=maker))
    assert own.status_code == 403 and own.json()["code"] == "maker_cannot_decide"
    other = client.post(f"{base}/{approval_id}/approve", headers=auth("supervisor", sub="boss-x", branch="BR0999"))
    assert other.status_code == 404 and other.json()["code"] == "approval_not_found"
    far = auth("supervisor", sub="boss-x", branch="BR0999")  # nor does it read or list it
    assert client.get(f"{base}/{approval_id}", headers=far).status_code == 404
    listed = client.get(base, params={"status": "all"}, headers=far).json()["items"]
    assert approval_id not in [a["id"] for a in listed]
    url = f"{base}/{approval_id}/reject"
    missing = client.post(url, json={}, headers=auth("supervisor", sub="boss-2"))
    assert missing.status_code == 422 and missing.json()["errors"][0]["loc"] == ["body", "reason"]
    done = client.post(url, json={"reason": "不符合规定"}, headers=auth("supervisor", sub="boss-2"))
    assert done.status_code == 200 and (done.json()["status"], done.json()["note"]) == ("rejected", "不符合规定")
    for again in (
        client.post(url, json={"reason": "again please"}, headers=auth("supervisor", sub="boss-3")),
        client.post(f"{base}/{approval_id}/approve", headers=auth("supervisor", sub="boss-3")),
    ):
        assert again.status_code == 409 and again.json()["code"] == "approval_decided"


def check_expiry(client, auth, app, base: str, approval_id: str, clock, hours: float) -> None:
    """Past its expiry a request reads expired and cannot be approved; the job marks it, once, with
    approval.expired on the feed and in the audit chain."""
    clock.advance(hours=hours + 1)
    assert client.get(f"{base}/{approval_id}", headers=auth("staff")).json()["status"] == "expired"
    late = client.post(f"{base}/{approval_id}/approve", headers=auth("supervisor", sub="boss-2"))
    assert late.status_code == 409 and late.json()["code"] == "approval_expired"
    assert client.get(base, headers=auth("supervisor")).json()["items"] == []
    book, db = app.state.approvals, app.state.db
    assert book.expire_due(db, now=clock()) == 1
    assert book.expire_due(db, now=clock()) == 0
    events = client.get("/v1/events", params={"limit": 1000}, headers=auth("system")).json()["items"]
    expired = [e for e in events if e["type"] == "approval.expired"]
    assert [e["data"]["approval_id"] for e in expired] == [approval_id]
    with db.read() as s:
        row = s.execute(select(book.table).where(book.table.c.id == approval_id)).mappings().one()
        actions = [r.action for r in s.execute(select(book.audit_chain).order_by(book.audit_chain.c.seq))]
    assert row["status"] == "expired" and "approval.expired" in actions


def steps_on_feed_and_chain(client, auth, app, approval_id: str) -> tuple[list[str], list[str]]:
    """The approval.* steps of the request on the feed, and the audit chain's actions (verified intact)."""
    events = client.get("/v1/events", params={"limit": 1000}, headers=auth("system")).json()["items"]
    steps = [e["type"] for e in events if e["data"].get("approval_id") == approval_id]
    chain = app.state.approvals.audit_chain
    with app.state.db.read() as s:
        actions = [r.action for r in s.execute(select(chain).order_by(chain.c.seq))]
        assert verify(s, chain).intact
    return steps, actions


def race_approvals(app, db: Database, approval_id: str, checkers: int = 6) -> list[str]:
    """`checkers` supervisors approve at once; each outcome ('approved' or the refusal's code)."""
    outcomes: list[str] = []

    def checker(n: int) -> None:
        try:
            app.state.approvals.approve(
                db,
                approval_id=approval_id,
                checker=Principal(f"boss-{n}", "supervisor", "BR0001"),
                now=app.state.clock(),
            )
            outcomes.append("approved")
        except Exception as err:  # noqa: BLE001 - each loser's refusal is the point
            outcomes.append(getattr(err, "code", type(err).__name__))

    threads = [threading.Thread(target=checker, args=(n,)) for n in range(checkers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(outcomes)
