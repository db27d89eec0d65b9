"""Personal data at rest: AES-GCM encryption with key ids (for rotation), a keyed hash (HMAC-SHA256)
for exact lookup without decrypting, and masking for responses."""

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import overload

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


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
