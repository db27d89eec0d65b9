"""Mosquitto for tests: the broker at TEST_MQTT_HOST:TEST_MQTT_PORT (127.0.0.1:1883). Tests needing it
fail in CI when it is missing and skip elsewhere (as PostgreSQL's and NATS's do). Each test's topics
are under a prefix of its own, so suites running at once never see each other's messages."""

import json
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from tests.dbkit import IN_CI

MQTT_HOST = os.environ.get("TEST_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("TEST_MQTT_PORT", "1883"))


def require_mosquitto() -> None:
    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=2):
            return
    except OSError as err:
        reason = f"Mosquitto not reachable at {MQTT_HOST}:{MQTT_PORT}: {type(err).__name__}"
    if IN_CI:
        pytest.fail(reason + " (CI must run the MQTT tests)")
    pytest.skip(reason)


def unique_prefix() -> str:
    return f"test-{os.environ.get('TEST_RUN_ID', 't')}-{uuid.uuid4().hex[:8]}"


class Inbox:
    """What a subscriber received: (topic, payload as JSON) in arrival order."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.arrived = threading.Condition()

    def add(self, topic: str, payload: bytes) -> None:
        with self.arrived:
            self.messages.append((topic, json.loads(payload)))
            self.arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[tuple[str, dict[str, Any]]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)


@contextmanager
def subscribed(topic_filter: str) -> Iterator[Inbox]:
    """A QoS 1 subscriber on `topic_filter`, subscribed before the block runs."""
    inbox = Inbox()
    ready = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-sub-{uuid.uuid4().hex[:10]}")
    client.on_connect = lambda c, *_a, **_k: c.subscribe(topic_filter, qos=1)
    client.on_subscribe = lambda *_a, **_k: ready.set()
    client.on_message = lambda _c, _u, msg: inbox.add(msg.topic, msg.payload)
    client.connect(MQTT_HOST, MQTT_PORT, keepalive=30)
    client.loop_start()
    try:
        assert ready.wait(10), "the subscription was not acknowledged"
        yield inbox
    finally:
        client.disconnect()
        client.loop_stop()
