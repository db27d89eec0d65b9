"""App push over MQTT: each message is published with QoS 1 on the customer's own topic
(`<prefix>/customers/<customer id>/inbox`) and counts as sent when the broker acknowledges it (PUBACK).
`PushPublisher.push(customer_id, payload)` is what any part of loyalty calls to notify a customer's app."""

import json
import threading
import uuid
from typing import Any

import paho.mqtt.client as mqtt

from services.loyalty.service.delivery.channel import Message, Outcome

ACK_SECONDS = 10.0
# No limit in paho (0): the caller's batch bounds how many messages are in flight at once. With a limit,
# paho looks through every message still out at each PUBACK to find the next one to send, so a window of
# 1,000 cost more than the publishing itself (paho 2.2: 260 ms against 120 ms for 2,000 messages).
MAX_INFLIGHT = 0


class PushFailed(Exception):
    """The broker did not take the message (not connected, refused, or no PUBACK in time)."""


def topic(prefix: str, customer_id: uuid.UUID | str) -> str:
    return f"{prefix}/customers/{customer_id}/inbox"


class PushPublisher:
    """One MQTT connection (made on first use, remade after a failure), its network loop in a thread."""

    channel = "app_push"

    def __init__(self, host: str, port: int, prefix: str, username: str = "", password: str = "", client_id: str = ""):
        self.host, self.port, self.prefix = host, port, prefix
        self.username, self.password = username, password
        self.client_id = client_id or f"loyalty-push-{uuid.uuid4().hex[:12]}"
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()

    def _connected(self) -> mqtt.Client:
        with self._lock:
            if self._client is not None and self._client.is_connected():
                return self._client
            self.close()
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=True)
            if self.username:
                client.username_pw_set(self.username, self.password)
            client.max_inflight_messages_set(MAX_INFLIGHT)
            connected = threading.Event()
            client.on_connect = lambda *_args, **_kw: connected.set()
            try:
                client.connect(self.host, self.port, keepalive=30)
            except OSError as err:
                raise PushFailed(f"broker unreachable: {type(err).__name__}") from None
            client.loop_start()
            if not connected.wait(ACK_SECONDS):
                client.loop_stop()
                raise PushFailed("broker did not accept the connection")
            self._client = client
            return client

    def push(self, customer_id: uuid.UUID | str, payload: dict[str, Any]) -> None:
        """Publishes `payload` (JSON) to the customer's topic with QoS 1 and waits for the PUBACK; PushFailed
        when the broker does not take it."""
        [outcome] = self._publish([(str(customer_id), payload)])
        if outcome is not None:
            raise PushFailed(outcome)

    def publish(self, items: list[tuple[str, dict[str, Any]]]) -> list[str | None]:
        """Publishes every (customer id, payload) and waits for the PUBACKs: None per acknowledged item,
        else why not; PushFailed when the broker cannot be reached."""
        return self._publish(items)

    def _publish(self, items: list[tuple[str, dict[str, Any]]]) -> list[str | None]:
        """Publishes every item, then waits for each PUBACK: None per acknowledged item, else why not."""
        client = self._connected()
        infos = []
        for customer_id, payload in items:
            body = json.dumps(payload, ensure_ascii=False).encode()
            infos.append(client.publish(topic(self.prefix, customer_id), body, qos=1))
        reasons: list[str | None] = []
        for info in infos:
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                reasons.append("publish_refused")
                continue
            try:
                info.wait_for_publish(ACK_SECONDS)
            except (RuntimeError, ValueError):
                reasons.append("publish_refused")
                continue
            reasons.append(None if info.is_published() else "no_puback")
        return reasons

    def send(self, messages: list[Message]) -> list[Outcome]:
        items = [(str(m.customer_id), payload_of(m)) for m in messages]
        try:
            reasons = self._publish(items)
        except PushFailed:
            return [Outcome("retry", "broker_unreachable") for _ in messages]
        return [
            Outcome("sent", provider_ref=m.key) if r is None else Outcome("retry", r)
            for m, r in zip(messages, reasons, strict=True)
        ]

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None


def payload_of(m: Message) -> dict[str, Any]:
    """What the app receives: the message id it acknowledges and de-duplicates by, and the text."""
    return {
        "message_id": m.key,
        "outreach_id": m.outreach_id,
        "kind": "campaign",
        "campaign_id": str(m.campaign_id),
        "purpose": m.purpose,
        "body": m.body,
    }
