"""The delivery worker: app push over a real Mosquitto (QoS 1, the customer's own topic), email to a real
local SMTP server (aiosmtpd), SMS to a local stand-in of the bank's HTTP SMS gateway; retries back off
and end failed; a failing channel never holds up another; quiet hours and the window hold messages;
and a crash between sending and marking never sends a message twice."""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from services.loyalty.models import Notification, Outreach
from services.loyalty.service.delivery.channel import Message, Outcome
from services.loyalty.service.delivery.email import EmailSender
from services.loyalty.service.delivery.push import PushPublisher, topic
from services.loyalty.service.delivery.sms import SmsSender
from services.loyalty.service.delivery.worker import DeliveryRules, DeliveryWorker
from services.loyalty.service.notifications import notify
from tests.loyalty import factories as f
from tests.mqttkit import MQTT_HOST, MQTT_PORT, require_mosquitto, subscribed, unique_prefix
from tests.natskit import free_port


class Recording:
    """A sender that answers each message with the next scripted outcome (sent when the script ends)."""

    def __init__(self, channel: str, *script: Outcome | Exception):
        self.channel, self.script, self.sent = channel, list(script), []

    def send(self, messages: list[Message]) -> list[Outcome]:
        step = self.script.pop(0) if self.script else Outcome("sent", provider_ref="x")
        if isinstance(step, Exception):
            raise step
        self.sent.extend(messages)
        return [step for _ in messages]


class Addresses:
    def __init__(self, book: dict[str, str]):
        self.book = book

    def lookup(self, customer_id: uuid.UUID, channel: str) -> str | None:
        return self.book.get(f"{customer_id}:{channel}")


def _worker(app, clock, *senders, **rules) -> DeliveryWorker:
    return DeliveryWorker(app.state.db, senders, DeliveryRules(zone=app.state.policy.zone, **rules), clock)


def _launch(client, auth, app, channel="app_push", n=1, **campaign) -> list[str]:
    f.branches(app)
    people = [f.reachable(app, marketing=(channel if channel != "phone_task" else "phone_call",)) for _ in range(n)]
    c = f.campaign(client, auth, channel=channel, **campaign)
    f.launched(client, auth, c["id"])
    return people


def _states(db) -> dict[str, tuple[str, int, str | None]]:
    with db.read() as s:
        rows = s.execute(select(Outreach)).scalars()
        return {str(r.customer_id): (r.state, r.attempts, r.failure_reason) for r in rows}


def test_sent_messages_are_rendered_and_marked(client, auth, loyalty_app, loyalty_db, clock):
    [cid] = _launch(client, auth, loyalty_app)
    sender = Recording("app_push")
    tally = _worker(loyalty_app, clock, sender).run_once()
    assert [m.body for m in sender.sent] == ["尊敬的客户，您的积分余额为0，活动截至2026-03-20。"]
    assert _states(loyalty_db)[cid] == ("sent", 1, None)
    assert tally.outcomes == {("app_push", "sent"): 1}
    assert _worker(loyalty_app, clock, sender).run_once().outcomes == {}  # nothing sent twice
    events = [
        e for e in client.get("/v1/events", headers=auth("system")).json()["items"] if e["type"] == "outreach.changed"
    ]
    assert [(e["subject_id"], e["data"]["state"]) for e in events] == [(cid, "sent")]


def test_retries_back_off_and_end_failed(client, auth, loyalty_app, loyalty_db, clock):
    [cid] = _launch(client, auth, loyalty_app)
    retry = Outcome("retry", "broker_unreachable")
    sender = Recording("app_push", retry, retry, retry)
    worker = _worker(loyalty_app, clock, sender, backoff_seconds=60, max_attempts=3)
    worker.run_once()
    assert _states(loyalty_db)[cid] == ("queued", 1, "broker_unreachable")
    worker.run_once()  # not due yet: backing off
    assert _states(loyalty_db)[cid][1] == 1
    clock.advance(seconds=61)
    worker.run_once()
    assert _states(loyalty_db)[cid][1] == 2
    clock.advance(seconds=119)
    worker.run_once()
    assert _states(loyalty_db)[cid][1] == 2  # the second wait is twice the first
    clock.advance(seconds=2)
    worker.run_once()
    assert _states(loyalty_db)[cid] == ("failed", 3, "broker_unreachable")


def test_a_failing_channel_never_holds_up_another(client, auth, loyalty_app, loyalty_db, clock):
    [push_customer] = _launch(client, auth, loyalty_app)
    task_customer = f.reachable(loyalty_app, marketing=("phone_call",))
    f.launched(client, auth, f.campaign(client, auth, channel="phone_task")["id"])
    broken = Recording("app_push", RuntimeError("broker on fire"))
    tasks = Recording("phone_task")
    _worker(loyalty_app, clock, broken, tasks).run_once()
    states = _states(loyalty_db)
    assert states[push_customer] == ("queued", 1, "sender_error")
    assert states[task_customer] == ("sent", 1, None)


def test_a_crash_between_sending_and_marking_never_sends_again(client, auth, loyalty_app, loyalty_db, clock):
    [cid] = _launch(client, auth, loyalty_app)
    sender = Recording("app_push")
    crashing = _worker(loyalty_app, clock, sender, claim_seconds=120)

    def crash(*_args, **_kw):
        raise SystemExit("killed between send and mark")

    crashing.mark = crash  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        crashing.run_once()
    assert len(sender.sent) == 1 and _states(loyalty_db)[cid][0] == "queued"  # claimed, sent, not marked
    restarted = _worker(loyalty_app, clock, sender, claim_seconds=120)
    restarted.run_once()
    assert len(sender.sent) == 1  # still claimed: nobody sends it
    clock.advance(seconds=121)
    restarted.run_once()
    assert len(sender.sent) == 1
    assert _states(loyalty_db)[cid] == ("failed", 1, "outcome_unknown")


def test_quiet_hours_and_the_window_hold_messages(client, auth, loyalty_app, loyalty_db, clock):
    # 10:00 in Beijing: inside quiet hours 09:00-11:00; the window opens now and closes in two days
    [cid] = _launch(
        client, auth, loyalty_app, quiet_start="09:00", quiet_end="11:00", send_until="2026-03-12T00:00:00Z"
    )
    sender = Recording("app_push")
    worker = _worker(loyalty_app, clock, sender)
    worker.run_once()
    assert sender.sent == [] and _states(loyalty_db)[cid][0] == "queued"
    clock.advance(hours=1, minutes=1)  # 11:01
    worker.run_once()
    assert len(sender.sent) == 1


def test_a_closed_window_fails_what_is_still_queued(client, auth, loyalty_app, loyalty_db, clock):
    [cid] = _launch(
        client, auth, loyalty_app, quiet_start="09:00", quiet_end="11:00", send_until="2026-03-10T02:30:00Z"
    )
    clock.advance(minutes=31)
    _worker(loyalty_app, clock, Recording("app_push")).run_once()
    assert _states(loyalty_db)[cid] == ("failed", 0, "window_closed")
    [campaign] = client.get("/v1/loyalty/campaigns", headers=auth("staff")).json()["items"]
    assert campaign["status"] == "finished"


def test_app_push_reaches_the_customers_own_topic_over_mqtt(client, auth, loyalty_app, loyalty_db, clock):
    require_mosquitto()
    prefix = unique_prefix()
    people = _launch(client, auth, loyalty_app, n=3)
    publisher = PushPublisher(MQTT_HOST, MQTT_PORT, prefix)
    try:
        with subscribed(f"{prefix}/customers/+/inbox") as inbox:
            _worker(loyalty_app, clock, publisher).run_once()
            got = inbox.wait_for(3)
    finally:
        publisher.close()
    assert sorted(t for t, _ in got) == sorted(topic(prefix, cid) for cid in people)
    _, payload = got[0]
    assert payload["kind"] == "campaign" and payload["message_id"] == f"outreach-{payload['outreach_id']}"
    assert payload["body"].startswith("尊敬的客户")
    assert {s for s, _a, _r in _states(loyalty_db).values()} == {"sent"}


def test_push_to_an_unreachable_broker_is_retried(client, auth, loyalty_app, loyalty_db, clock):
    [cid] = _launch(client, auth, loyalty_app)
    publisher = PushPublisher("127.0.0.1", free_port(), "x")
    _worker(loyalty_app, clock, publisher).run_once()
    assert _states(loyalty_db)[cid] == ("queued", 1, "broker_unreachable")


class _Mailbox:
    def __init__(self):
        self.mails = []

    async def handle_DATA(self, _server, _session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.mails.append((envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"


def test_email_goes_through_a_real_smtp_server(client, auth, loyalty_app, loyalty_db, clock):
    [cid, nobody] = _launch(client, auth, loyalty_app, channel="email", n=2)
    mailbox = _Mailbox()
    port = free_port()
    server = Controller(mailbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        sender = EmailSender("127.0.0.1", port, "noreply@psbc.example.cn", Addresses({f"{cid}:email": "li@example.cn"}))
        _worker(loyalty_app, clock, sender).run_once()
    finally:
        server.stop()
    [(to, content)] = mailbox.mails
    assert to == ["li@example.cn"] and "Message-ID: <outreach-" in content
    states = _states(loyalty_db)
    assert states[cid] == ("sent", 1, None) and states[nobody] == ("failed", 1, "no_address")


def test_email_to_an_unreachable_server_is_retried(client, auth, loyalty_app, loyalty_db, clock):
    [cid] = _launch(client, auth, loyalty_app, channel="email")
    sender = EmailSender("127.0.0.1", free_port(), "noreply@psbc.example.cn", Addresses({}))
    _worker(loyalty_app, clock, sender).run_once()
    assert _states(loyalty_db)[cid] == ("queued", 1, "smtp_unreachable")


class _Gateway(BaseHTTPRequestHandler):
    """The stand-in SMS gateway: 200 for numbers it knows, 503 for 13900000000, 400 for 13800000000."""

    received: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's hook name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append({**body, "auth": self.headers["Authorization"]})
        code = {"13900000000": 503, "13800000000": 400}.get(body["to"], 200)
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args):
        pass


def test_sms_goes_through_the_http_gateway_and_its_report_delivers(client, auth, loyalty_app, loyalty_db, clock):
    ok, busy, refused = _launch(client, auth, loyalty_app, channel="sms", n=3)
    book = Addresses({f"{ok}:sms": "13700000000", f"{busy}:sms": "13900000000", f"{refused}:sms": "13800000000"})
    _Gateway.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/send"
        _worker(loyalty_app, clock, SmsSender(url, "gw-token", book)).run_once()
    finally:
        server.shutdown()
    assert {r["to"] for r in _Gateway.received} == {"13700000000", "13900000000", "13800000000"}
    assert all(r["auth"] == "Bearer gw-token" and r["reference"].startswith("outreach-") for r in _Gateway.received)
    states = _states(loyalty_db)
    assert states[ok] == ("sent", 1, None)
    assert states[busy] == ("queued", 1, "sms_gateway_503")
    assert states[refused] == ("failed", 1, "sms_gateway_400")
    reference = next(r["reference"] for r in _Gateway.received if r["to"] == "13700000000")
    report = client.post(
        "/v1/loyalty/delivery-receipts/sms",
        json={"reference": reference, "status": "delivered"},
        headers=auth("system", scope="deliveries:report"),
    )
    assert report.status_code == 204
    assert _states(loyalty_db)[ok][0] == "delivered"


def test_the_app_wires_a_worker_with_push_and_phone_tasks(loyalty_app):
    channels = [s.channel for s in loyalty_app.state.delivery.senders]
    assert channels == ["app_push", "phone_task"]


def test_outreach_metrics_count_by_channel_and_state(client, auth, loyalty_app, clock):
    _launch(client, auth, loyalty_app, n=2)
    text = client.get("/metrics").text
    assert 'loyalty_outreach_records{channel="app_push",state="queued"} 2.0' in text


def test_a_pushed_campaign_message_lands_in_the_customers_inbox_already_pushed(
    client, auth, loyalty_app, loyalty_db, clock
):
    require_mosquitto()
    prefix = unique_prefix()
    [cid] = _launch(client, auth, loyalty_app)
    publisher = PushPublisher(MQTT_HOST, MQTT_PORT, prefix)
    try:
        with subscribed(f"{prefix}/customers/+/inbox") as inbox:
            _worker(loyalty_app, clock, publisher).run_once()
            inbox.wait_for(1)
            # the pushed campaign message is not pushed a second time as an inbox notification
            _worker(loyalty_app, clock, publisher).run_once()
    finally:
        publisher.close()
    items = client.get("/v1/loyalty/notifications", headers=auth("customer", sub=cid)).json()["items"]
    assert [(n["kind"], n["body"][:5]) for n in items] == [("campaign", "尊敬的客户")]
    with loyalty_db.read() as s:
        assert s.execute(select(Notification.push_state)).scalars().all() == ["sent"]


@pytest.mark.parametrize(
    ("queued", "script", "full"),
    [(3, (), [True, False]), (1, (), [False]), (3, (Outcome("retry", "down"),), [False])],
    ids=["a-full-batch-sent", "a-part-batch", "a-full-batch-not-sent"],
)
def test_a_pass_says_full_only_when_it_sent_a_full_batch(client, auth, loyalty_app, clock, queued, script, full):
    _launch(client, auth, loyalty_app, channel="sms", n=queued)
    worker = _worker(loyalty_app, clock, Recording("sms", *script), batch=2)
    assert [worker.run_once().full for _ in full] == full


def test_a_pushed_batch_skips_an_inbox_occasion_that_exists_and_adds_the_rest(
    loyalty_app, loyalty_db, clock, client, auth
):
    people = _launch(client, auth, loyalty_app, n=3)
    with loyalty_db.read() as s:
        [campaign_id] = set(s.execute(select(Outreach.campaign_id)).scalars())
    earlier = uuid.UUID(people[0])
    with loyalty_db.write() as s:
        notify(s, customer_id=earlier, key=f"campaign:{campaign_id}:{earlier}", kind="campaign", title="t",
               body="earlier", now=clock(), push_state="pending")  # fmt: skip
        s.commit()
    _worker(loyalty_app, clock, Recording("app_push")).run_once()
    with loyalty_db.read() as s:
        assert s.execute(select(Outreach.state)).scalars().all() == ["sent"] * 3
        inbox = {n.customer_id: (n.body[:5], n.push_state) for n in s.execute(select(Notification)).scalars()}
    assert inbox.pop(earlier) == ("earli", "pending")
    assert sorted(inbox) == sorted(uuid.UUID(p) for p in people[1:])
    assert set(inbox.values()) == {("尊敬的客户", "sent")}


def test_pending_inbox_notifications_are_pushed_and_marked(loyalty_app, loyalty_db, clock):
    require_mosquitto()
    prefix = unique_prefix()
    cid = uuid.uuid4()
    with loyalty_db.write() as s:
        notify(s, customer_id=cid, key="t:1", kind="points_expiring", title="积分即将到期", body="100 积分",
               now=clock(), push_state="pending")  # fmt: skip
        notify(s, customer_id=cid, key="t:2", kind="event_reminder", title="活动提醒", body="明天", now=clock())
        s.commit()
    publisher = PushPublisher(MQTT_HOST, MQTT_PORT, prefix)
    try:
        with subscribed(f"{prefix}/customers/+/inbox") as inbox:
            _worker(loyalty_app, clock, publisher).run_once()
            [(got_topic, payload)] = inbox.wait_for(1)
    finally:
        publisher.close()
    assert got_topic == topic(prefix, cid)
    assert (payload["kind"], payload["title"]) == ("points_expiring", "积分即将到期")
    assert payload["message_id"] == f"notification-{payload['notification_id']}"
    with loyalty_db.read() as s:
        states = dict(s.execute(select(Notification.dedupe_key, Notification.push_state)).all())
    assert states == {"t:1": "sent", "t:2": "none"}  # t:2: no app channel with consent, never pushed


def test_pending_inbox_notifications_stay_pending_while_the_broker_is_away(loyalty_app, loyalty_db, clock):
    with loyalty_db.write() as s:
        notify(s, customer_id=uuid.uuid4(), key="t:3", kind="points_expiring", title="t", body="b",
               now=clock(), push_state="pending")  # fmt: skip
        s.commit()
    publisher = PushPublisher("127.0.0.1", free_port(), "x")
    _worker(loyalty_app, clock, publisher).run_once()
    with loyalty_db.read() as s:
        assert s.execute(select(Notification.push_state)).scalars().all() == ["pending"]
