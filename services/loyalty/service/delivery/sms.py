"""SMS through the bank's HTTP SMS gateway: POST {to, text, reference} with the gateway's token; a 2xx is
sent (the gateway has it), a 4xx a final failure, anything else a retry. The gateway reports delivery to
POST /v1/loyalty/delivery-receipts/sms with the same reference, which moves the record to delivered or
failed. The reference is the idempotency key, so a gateway drops a repeat."""

import json
import urllib.error
import urllib.request
import uuid

from services.loyalty.service.delivery.addresses import Addresses, AddressUnavailable
from services.loyalty.service.delivery.channel import Message, Outcome


class SmsSender:
    channel = "sms"

    def __init__(self, url: str, token: str, addresses: Addresses, timeout: float = 5.0):
        self.url, self.token, self.addresses, self.timeout = url, token, addresses, timeout

    def send(self, messages: list[Message]) -> list[Outcome]:
        return [self._one(m) for m in messages]

    def _one(self, m: Message) -> Outcome:
        try:
            to = self.addresses.lookup(uuid.UUID(str(m.customer_id)), "sms")
        except AddressUnavailable:
            return Outcome("retry", "address_unavailable")
        if to is None:
            return Outcome("failed", "no_address")
        body = json.dumps({"to": to, "text": m.body, "reference": m.key}, ensure_ascii=False).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL is a setting, never a client's
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout):  # noqa: S310
                return Outcome("sent", provider_ref=m.key)
        except urllib.error.HTTPError as err:
            final = 400 <= err.code < 500 and err.code not in (408, 429)
            return Outcome("failed" if final else "retry", f"sms_gateway_{err.code}")
        except OSError:
            return Outcome("retry", "sms_gateway_unreachable")
