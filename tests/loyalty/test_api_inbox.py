"""The customer inbox on both databases: notifications made from feedback's feed (complaint status
changes, survey invitations) once per occasion, read by the customer itself only, newest first with a
cursor, marked read; the push state follows the customer's app channel and consent."""

import uuid

from services.loyalty.service.notifications import mark_pushed, notify_campaign
from tests.loyalty import care_kit as k
from tests.loyalty import factories as f


def _inbox(client, auth, cid, **params):
    return client.get("/v1/loyalty/notifications", params=params, headers=auth("customer", sub=cid))


def test_complaint_status_and_survey_invitation_reach_the_inbox_once(client, auth, loyalty_app):
    cid, complaint_id = str(uuid.uuid4()), str(uuid.uuid4())
    feed = [
        k.complaint("complaint.opened", cid, complaint_id),
        k.complaint("complaint.decided", cid, complaint_id, outcome="upheld", decided_at="2026-03-12T02:00:00Z"),
        k.complaint("complaint.closed", cid, complaint_id, reason="handled", closed_at="2026-03-13T02:00:00Z"),
        k.invited(cid, 7, complaint_id),
    ]
    f.consumer(loyalty_app, "feedback").apply(feed)
    f.consumer(loyalty_app, "feedback").apply(feed)  # the same occasions again (a replay): nothing new
    body = _inbox(client, auth, cid).json()
    assert [(n["kind"], n["data"].get("status")) for n in body["items"]] == [
        ("survey_invitation", None),
        ("complaint_status", "closed"),
        ("complaint_status", "decided"),
        ("complaint_status", "opened"),
    ]
    assert body["unread"] == 4 and body["next_cursor"] is None
    opened = body["items"][-1]
    assert opened["title"] == "投诉已受理" and "2026-03-26" in opened["body"]  # the due date on the bank's calendar
    assert body["items"][0]["data"]["complaint_id"] == complaint_id
    assert {n["push_state"] for n in body["items"]} == {"none"}  # no app channel known


def test_a_complaint_without_a_customer_record_makes_no_notification(client, auth, loyalty_app):
    complaint_id = str(uuid.uuid4())
    f.consumer(loyalty_app, "feedback").apply([k.complaint("complaint.opened", complaint_id, complaint_id)])
    assert _inbox(client, auth, complaint_id).json()["items"] == []


def test_withdrawn_complaint_says_so(client, auth, loyalty_app):
    cid, complaint_id = str(uuid.uuid4()), str(uuid.uuid4())
    closed = k.complaint("complaint.closed", cid, complaint_id, reason="withdrawn", closed_at="2026-03-13T02:00:00Z")
    f.consumer(loyalty_app, "feedback").apply([closed])
    assert _inbox(client, auth, cid).json()["items"][0]["title"] == "投诉已撤回"


def test_push_is_pending_only_with_an_app_channel_and_consent(client, auth, loyalty_app, clock):
    pushed, withdrawn = str(uuid.uuid4()), str(uuid.uuid4())
    f.consumer(loyalty_app).apply([k.app_push(pushed), k.app_push(withdrawn), k.app_push(withdrawn, allowed=False)])
    f.consumer(loyalty_app, "feedback").apply([k.invited(pushed, 1), k.invited(withdrawn, 2)])
    [mine] = _inbox(client, auth, pushed).json()["items"]
    assert mine["push_state"] == "pending"
    assert _inbox(client, auth, withdrawn).json()["items"][0]["push_state"] == "none"
    assert mark_pushed(loyalty_app.state.db, notification_ids=[mine["id"]]) == 1
    assert _inbox(client, auth, pushed).json()["items"][0]["push_state"] == "sent"


def test_campaign_messages_enter_once_per_campaign(client, auth, loyalty_app, clock):
    cid = uuid.uuid4()
    db = loyalty_app.state.db
    assert notify_campaign(db, customer_id=cid, campaign_id="c-1", title="理财节", body="欢迎参加", now=clock())
    assert not notify_campaign(db, customer_id=cid, campaign_id="c-1", title="理财节", body="欢迎参加", now=clock())
    [n] = _inbox(client, auth, str(cid)).json()["items"]
    assert (n["kind"], n["data"]) == ("campaign", {"campaign_id": "c-1"})


def test_paging_unread_filter_and_marking_read(client, auth, loyalty_app):
    cid = str(uuid.uuid4())
    f.consumer(loyalty_app, "feedback").apply([k.invited(cid, n) for n in range(1, 6)])
    first = _inbox(client, auth, cid, limit=2).json()
    second = _inbox(client, auth, cid, limit=2, cursor=first["next_cursor"]).json()
    third = _inbox(client, auth, cid, limit=2, cursor=second["next_cursor"]).json()
    ids = [n["id"] for page in (first, second, third) for n in page["items"]]
    assert len(ids) == 5 == len(set(ids)) and ids == sorted(ids, reverse=True) and third["next_cursor"] is None
    me = auth("customer", sub=cid)
    read = client.post(f"/v1/loyalty/notifications/{ids[0]}/read", headers=me)
    assert read.status_code == 200 and read.json()["is_read"] and read.json()["read_at"] == "2026-03-10T02:00:00Z"
    again = client.post(f"/v1/loyalty/notifications/{ids[0]}/read", headers=me)
    assert again.status_code == 200 and again.json()["read_at"] == read.json()["read_at"]
    unread = _inbox(client, auth, cid, unread="true").json()
    assert unread["unread"] == 4 and ids[0] not in [n["id"] for n in unread["items"]]


def test_only_the_customer_reads_and_marks_its_own_inbox(client, auth, loyalty_app):
    cid = str(uuid.uuid4())
    f.consumer(loyalty_app, "feedback").apply([k.invited(cid, 1)])
    [n] = _inbox(client, auth, cid).json()["items"]
    other = auth("customer", sub=str(uuid.uuid4()))
    assert client.get("/v1/loyalty/notifications", headers=other).json()["items"] == []
    missing = client.post(f"/v1/loyalty/notifications/{n['id']}/read", headers=other)
    assert missing.status_code == 404 and missing.json()["code"] == "notification_not_found"
    for role in ("staff", "supervisor", "admin", "system"):
        assert client.get("/v1/loyalty/notifications", headers=auth(role)).status_code == 403, role
        assert client.post(f"/v1/loyalty/notifications/{n['id']}/read", headers=auth(role)).status_code == 403, role
    assert client.get("/v1/loyalty/notifications").status_code == 401
    assert client.post(f"/v1/loyalty/notifications/{n['id']}/read").status_code == 401
    me = auth("customer", sub=cid)
    assert client.get("/v1/loyalty/notifications", params={"cursor": "junk"}, headers=me).status_code == 422
    assert client.get("/v1/loyalty/notifications", params={"limit": 0}, headers=me).status_code == 422
    assert client.post("/v1/loyalty/notifications/0/read", headers=me).status_code == 422
    assert client.get("/v1/loyalty/notifications", headers=auth("customer", sub="not-a-uuid")).status_code == 403
