"""Where an SMS or an email goes: the customer's number or address is personal data sealed in profile,
so it is asked for at sending time and never stored in loyalty. `ProfileAddresses` reads it from
profile's delivery-address endpoint with loyalty's system token (scope `contacts:deliver`)."""

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from typing import Protocol


class AddressUnavailable(Exception):
    """The address source could not answer (the message is retried later)."""


class Addresses(Protocol):
    def lookup(self, customer_id: uuid.UUID, channel: str) -> str | None:
        """The customer's number (sms) or address (email); None when the customer has none."""
        ...


class ProfileAddresses:
    def __init__(self, profile_url: str, token: Callable[[], str], timeout: float = 5.0):
        self.base = profile_url.rstrip("/")
        self.token, self.timeout = token, timeout

    def lookup(self, customer_id: uuid.UUID, channel: str) -> str | None:
        query = urllib.parse.urlencode({"channel": channel})
        request = urllib.request.Request(  # noqa: S310 - the URL is a setting, never a client's
            f"{self.base}/v1/customers/{customer_id}/delivery-address?{query}",
            headers={"Authorization": f"Bearer {self.token()}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:  # noqa: S310
                value = json.loads(resp.read())["address"]
                return str(value) if value else None
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise AddressUnavailable(f"profile answered {err.code}") from None
        except (OSError, ValueError, KeyError) as err:
            raise AddressUnavailable(type(err).__name__) from None
