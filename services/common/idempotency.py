"""Idempotency-Key: the first response to a key is stored in the same transaction as the write it
answers; the same key and body replay it, the same key with another body is a 409."""

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Column, Integer, MetaData, PrimaryKeyConstraint, String, Table, insert, select
from sqlalchemy.orm import Session

from services.common.db import UTCDateTime, utcnow
from services.common.errors import Conflict, InvalidInput

_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


def idempotency_table(metadata: MetaData) -> Table:
    return Table(
        "idempotency_record",
        metadata,
        Column("scope", String(300), nullable=False),
        Column("key", String(200), nullable=False),
        Column("fingerprint", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("response", JSON, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        PrimaryKeyConstraint("scope", "key"),
    )


@dataclass(frozen=True)
class IdempotencyRequest:
    scope: str  # caller and operation, so two callers' keys never meet
    key: str
    fingerprint: str  # hash of the request body


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


def idempotency_request(key: str | None, *, caller: str, operation: str, body: Any) -> IdempotencyRequest | None:
    if key is None:
        return None
    if not _KEY.match(key):
        raise InvalidInput(
            [
                {
                    "loc": ["header", "Idempotency-Key"],
                    "msg": "1 to 200 visible ASCII characters",
                    "type": "idempotency_key_invalid",
                }
            ]
        )
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()
    return IdempotencyRequest(scope=f"{caller}:{operation}", key=key, fingerprint=hashlib.sha256(raw).hexdigest())


def find_stored(session: Session, table: Table, req: IdempotencyRequest) -> StoredResponse | None:
    row = session.execute(select(table).where(table.c.scope == req.scope, table.c.key == req.key)).mappings().first()
    if row is None:
        return None
    if row["fingerprint"] != req.fingerprint:
        raise Conflict(
            "This Idempotency-Key was already used with a different request body", code="idempotency_key_reused"
        )
    return StoredResponse(row["status_code"], row["response"])


def store_response(
    session: Session, table: Table, req: IdempotencyRequest, status_code: int, body: dict[str, Any]
) -> None:
    session.execute(
        insert(table).values(
            scope=req.scope,
            key=req.key,
            fingerprint=req.fingerprint,
            status_code=status_code,
            response=body,
            created_at=utcnow(),
        )
    )
