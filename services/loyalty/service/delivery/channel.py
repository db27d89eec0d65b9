"""What a channel's sender is given and answers: one message per claimed outreach record, and per
message an outcome (sent, or a failure that is retried later or is final)."""

import uuid
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class Message:
    outreach_id: int
    customer_id: uuid.UUID
    campaign_id: uuid.UUID
    purpose: str
    body: str

    @property
    def key(self) -> str:
        """The idempotency key each send carries (MQTT message_id, SMS reference, email Message-ID), so a
        receiver can drop a repeat."""
        return f"outreach-{self.outreach_id}"


@dataclass(frozen=True)
class Outcome:
    result: Literal["sent", "retry", "failed"]
    reason: str | None = None  # why not sent (a code, never a payload)
    provider_ref: str | None = None


SENT = Outcome("sent")


class Sender(Protocol):
    channel: str

    def send(self, messages: list[Message]) -> list[Outcome]:
        """One outcome per message, in order; raising means every message is retried later."""
        ...


class PhoneTasks:
    """A phone task is the relationship manager's: handing it over is "sent"; the call's result is a
    response staff record (POST /v1/loyalty/outreach/{id}/receipts)."""

    channel = "phone_task"

    def send(self, messages: list[Message]) -> list[Outcome]:
        return [SENT for _ in messages]
