"""Personal data at rest: AES-GCM encryption with key ids (for rotation), a keyed hash (HMAC-SHA256)
for exact lookup without decrypting, free text sealed the same way, and masking for responses (of
values, and of the values inside free text)."""

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, overload

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# What a free-text field holds once its words were erased (an erasure, a retention sweep). Stored as it
# is, never encrypted, so that sweeps can find what is already redacted by comparing it.
ERASED = "[erased]"

Redaction = str | Callable[[re.Match[str]], str]
_EDGE = "0-9A-Za-z"


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    return f"{digits[:6]}{'*' * (len(digits) - 10)}{digits[-4:]}"


# Values with a shape, wherever they stand in a text: an ID number (a resident ID and the
# 18-character documents built like it, a permanent residence card, an HK/Macao travel permit), a bank
# card, a phone (mainland mobile or landline, with or without spaces and hyphens; E.164) and an email.
# Log lines (services.common.logs) and free text in responses (mask_text) are masked by the same list.
PERSONAL_VALUES: list[tuple[re.Pattern[str], Redaction]] = [
    (re.compile(rf"(?<![{_EDGE}])(\d{{6}})\d{{8}}(\d{{3}}[0-9Xx])(?![{_EDGE}])"), r"\1********\2"),
    (re.compile(rf"(?<![{_EDGE}-])\d(?:[ -]?\d){{15,18}}(?![{_EDGE}-])"), _card),  # bank cards, 16-19 digits
    (re.compile(r"(?<!\d)(1\d{2})[ -]?\d{4}[ -]?(\d{4})(?!\d)"), r"\1****\2"),  # mainland mobile
    (re.compile(r"(?<![0-9A-Za-z+])\+(\d{3})\d{3,8}(\d{4})(?!\d)"), r"+\1****\2"),  # E.164 elsewhere
    (re.compile(rf"(?<![{_EDGE}])([A-Z]{{3}})\d{{8}}(\d{{4}})(?![{_EDGE}])"), r"\1********\2"),  # residence card
    (re.compile(rf"(?<![{_EDGE}])([HM])\d{{4,6}}(\d{{4}})(?![{_EDGE}])"), r"\1****\2"),  # HK/Macao permit
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[redacted-email]"),
    (re.compile(rf"(?<![{_EDGE}-])(0\d{{2,3}})[ -]?\d{{5,6}}(\d{{2}})(?![{_EDGE}-])"), r"\1-*****\2"),  # landline
]


# Every value above has a digit, or an @: text without either is left as it is, without the 8 passes.
_MAY_HOLD_VALUES = re.compile(r"[\d@]")


@overload
def mask_text(text: str) -> str: ...


@overload
def mask_text(text: None) -> None: ...


def mask_text(text: str | None) -> str | None:
    """Free text as roles that see masked data read it: the words stay, the values inside are masked."""
    if text is None or not _MAY_HOLD_VALUES.search(text):
        return text
    for pattern, repl in PERSONAL_VALUES:
        text = pattern.sub(repl, text)
    return text


def parse_keyring(spec: str) -> dict[str, bytes]:
    """'k2:<base64>,k1:<base64>' (or one bare base64 key, id 'k1'); the first key encrypts."""
    ring: dict[str, bytes] = {}
    for i, part in enumerate(p.strip() for p in spec.split(",") if p.strip()):
        kid, _, b64 = part.rpartition(":") if ":" in part else (f"k{i + 1}", "", part)
        key = base64.b64decode(b64)
        if len(key) not in (16, 24, 32):
            raise ValueError(f"personal-data key {kid!r} must be 16, 24 or 32 bytes")
        ring[kid] = key
    if not ring:
        raise ValueError("no personal-data key configured")
    return ring


@dataclass(frozen=True)
class Mask:
    first: int
    last: int

    @classmethod
    def parse(cls, spec: str) -> "Mask":
        first, last = (int(x) for x in spec.split(","))
        return cls(first, last)

    @overload
    def apply(self, value: str) -> str: ...

    @overload
    def apply(self, value: None) -> None: ...

    def apply(self, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) <= self.first + self.last:
            return "*" * len(value)
        return value[: self.first] + "*" * (len(value) - self.first - self.last) + value[len(value) - self.last :]


@overload
def mask_email(value: str) -> str: ...


@overload
def mask_email(value: None) -> None: ...


def mask_email(value: str | None) -> str | None:
    if value is None:
        return None
    local, _, domain = value.partition("@")
    return (local[:1] + "***@" + domain) if domain else Mask(1, 0).apply(value)


class PersonalDataVault:
    """Encrypts one field value at a time; the field's name is bound in as associated data so a
    ciphertext copied into another column does not decrypt."""

    def __init__(self, keyring_spec: str, hmac_key: str):
        self.keys = parse_keyring(keyring_spec)
        self.active_kid = next(iter(self.keys))
        self._ciphers = {kid: AESGCM(key) for kid, key in self.keys.items()}  # key schedules, built once
        self.hmac_key = hmac_key.encode()

    def encrypt(self, value: str, field: str) -> str:
        nonce = os.urandom(12)
        ct = self._ciphers[self.active_kid].encrypt(nonce, value.encode(), field.encode())
        return f"{self.active_kid}.{base64.urlsafe_b64encode(nonce + ct).decode()}"

    def decrypt(self, token: str, field: str) -> str:
        kid, _, body = token.partition(".")
        raw = base64.urlsafe_b64decode(body)
        return self._ciphers[kid].decrypt(raw[:12], raw[12:], field.encode()).decode()

    def lookup_hash(self, value: str, field: str) -> str:
        return hmac.new(self.hmac_key, f"{field}\x00{value}".encode(), hashlib.sha256).hexdigest()

    def seal(self, value: str | None, field: str) -> str | None:
        """Free text for storage: encrypted, except None and the ERASED marker, which hold no words."""
        return value if value is None or value == ERASED else self.encrypt(value, field)

    def unseal(self, stored: str | None, field: str) -> str | None:
        """The stored free text in full. A value that is not a ciphertext of this keyring (a row
        written before its field was encrypted) is returned as it is, so old rows still read."""
        if stored is None or stored == ERASED:
            return stored
        try:
            return self.decrypt(stored, field)
        except (KeyError, ValueError, InvalidTag, binascii.Error):
            return stored

    def seal_document(self, body: dict[str, Any], field: str) -> dict[str, Any]:
        """A stored JSON document that holds free text (an idempotent create's answer), encrypted whole."""
        return {"sealed": self.encrypt(json.dumps(body, ensure_ascii=False), field)}

    def unseal_document(self, stored: dict[str, Any], field: str) -> dict[str, Any]:
        """The document as given to seal_document; one stored before sealing is returned as it is."""
        if set(stored) != {"sealed"}:
            return stored
        body: dict[str, Any] = json.loads(self.decrypt(stored["sealed"], field))
        return body


def open_text(vault: PersonalDataVault, stored: str | None, field: str, *, full: bool) -> str | None:
    """Stored free text as a response shows it: in full for a reveal (or the person's own export),
    otherwise with the values inside it masked."""
    text = vault.unseal(stored, field)
    return text if full else mask_text(text)
