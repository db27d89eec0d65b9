"""The tamper-evident audit trail: a hash chain each service appends its sensitive writes to, in the
same transaction as the write (reveals, corrections and erasures of personal data, exports, complaint
steps, points adjustments). Each record holds the previous record's digest and its own SHA-256 over
its content and that digest, so a record altered, removed or reordered breaks the chain from there on.

A record may mirror a row of one of the service's own tables (the access log, a complaint's steps,
the ledger): it then copies the row's key and the columns that never change, and `verify` also finds a
mirrored row that was altered or deleted, and a row written without its record. Records hold no
personal values (ids, field names, states, amounts), so an erasure never has to touch the chain.

Someone who can write the database could recompute the whole chain after an edit; what catches that is
the head (position and digest) kept outside the database: each service exports it as metrics, so
Prometheus holds its history, and `verify` checks the chain against heads recorded earlier
(`--expect`; docs/operations.md, "Audit trail")."""

import hashlib
import json
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import JSON, Column, ColumnElement, MetaData, String, Table, insert, select, text
from sqlalchemy.orm import Session

from services.common.context import current_request_id
from services.common.db import BigIntPK, Database, UTCDateTime

GENESIS = "0" * 64
CONTENT = ("seq", "at", "action", "actor_sub", "actor_role", "subject", "detail", "request_id", "prev_digest")


def audit_chain_table(metadata: MetaData) -> Table:
    return Table(
        "audit_chain",
        metadata,
        Column("seq", BigIntPK, primary_key=True, autoincrement=False),
        Column("at", UTCDateTime(), nullable=False),
        Column("action", String(60), nullable=False),
        Column("actor_sub", String(100), nullable=False),
        Column("actor_role", String(16), nullable=False),
        Column("subject", String(64), nullable=False),  # the object's id: a customer, complaint, account
        Column("detail", JSON, nullable=False),  # ids, field names, states, amounts; never personal values
        Column("request_id", String(128), nullable=True),
        Column("prev_digest", String(64), nullable=False),
        Column("digest", String(64), nullable=False, unique=True),
    )


@dataclass(frozen=True)
class Mirror:
    """A table whose rows each get a record: `key` is its primary key, `columns` those that never
    change once written (free text that an erasure redacts is not among them)."""

    table: Table
    key: str
    columns: tuple[str, ...]
    where: ColumnElement[bool] | None = None  # only these rows get records (e.g. staff adjustments)

    def detail(self, row: Mapping[str, Any] | Any) -> dict[str, Any]:
        get = row.get if isinstance(row, Mapping) else lambda name: getattr(row, name)
        return {
            "table": self.table.name,
            "row": _plain(get(self.key)),
            "columns": {c: _plain(get(c)) for c in self.columns},
        }


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date | uuid.UUID | Decimal):
        return str(value) if not isinstance(value, date) else value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def digest_of(record: Mapping[str, Any]) -> str:
    content = {name: _plain(record[name]) for name in CONTENT}
    return hashlib.sha256(
        json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    ).hexdigest()


def append(
    s: Session,
    chain: Table,
    *,
    action: str,
    actor_sub: str,
    actor_role: str,
    subject: str,
    at: datetime,
    detail: Mapping[str, Any] | None = None,
) -> int:
    """Appends one record in the caller's transaction and returns its position. Appenders are
    serialised (a transaction-scoped advisory lock on PostgreSQL; SQLite's writer lock), so positions
    are gapless and each record follows the one committed before it."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(f"audit:{chain.name}".encode())})
    head = s.execute(select(chain.c.seq, chain.c.digest).order_by(chain.c.seq.desc()).limit(1)).first()
    record: dict[str, Any] = {
        "seq": head.seq + 1 if head else 1,
        "at": at,
        "action": action,
        "actor_sub": actor_sub,
        "actor_role": actor_role,
        "subject": subject,
        "detail": _plain(dict(detail or {})),
        "request_id": current_request_id(),
        "prev_digest": head.digest if head else GENESIS,
    }
    record["digest"] = digest_of(record)
    s.execute(insert(chain).values(**record))
    return int(record["seq"])


@dataclass(frozen=True)
class Verdict:
    records: int
    head_seq: int
    head_digest: str
    problem: str | None  # the first break found, naming the record; None: intact

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify(
    s: Session, chain: Table, mirrors: Iterable[Mirror] = (), expect: Mapping[int, str] | None = None
) -> Verdict:
    """Walks the chain from its first record; stops at the first break. Then compares each mirrored
    table with its records, and the chain with heads recorded earlier (`expect`: position -> digest)."""
    by_table: dict[str, dict[Any, tuple[int, dict[str, Any]]]] = {}
    prev, seq = GENESIS, 0

    def verdict(problem: str | None) -> Verdict:
        return Verdict(seq, seq, prev, problem)

    for row in s.execute(select(chain).order_by(chain.c.seq)).mappings():
        record = dict(row)
        if record["seq"] != seq + 1:
            return verdict(f"record {seq + 1} is missing (the record after {seq} is {record['seq']})")
        if record["prev_digest"] != prev:
            return verdict(f"record {record['seq']} does not follow record {seq}: one of them was replaced or moved")
        if digest_of(record) != record["digest"]:
            return verdict(f"record {record['seq']} was altered: its digest does not match its content")
        prev, seq = record["digest"], record["seq"]
        detail = record["detail"] or {}
        if "table" in detail:
            by_table.setdefault(detail["table"], {})[detail["row"]] = (seq, detail["columns"])
    for earlier_seq, earlier_digest in sorted((expect or {}).items()):
        found = s.execute(select(chain.c.digest).where(chain.c.seq == earlier_seq)).scalar_one_or_none()
        if found != earlier_digest:
            return verdict(f"record {earlier_seq} is not the one recorded earlier: the chain was rewritten from there")
    for mirror in mirrors:
        problem = _compare(s, mirror, by_table.get(mirror.table.name, {}))
        if problem:
            return verdict(problem)
    return verdict(None)


def _compare(s: Session, mirror: Mirror, recorded: dict[Any, tuple[int, dict[str, Any]]]) -> str | None:
    """Rows written before the chain existed (keys below the first recorded one) are not covered."""
    t, name = mirror.table, mirror.table.name
    key = t.c[mirror.key]
    first = min(recorded, default=None)
    if first is None:
        return None
    stmt = select(key, *(t.c[c] for c in mirror.columns if c != mirror.key)).where(key >= first)
    if mirror.where is not None:
        stmt = stmt.where(mirror.where)
    rows = {_plain(r[mirror.key]): {c: _plain(r[c]) for c in mirror.columns} for r in s.execute(stmt).mappings()}
    for row_key, (seq, columns) in sorted(recorded.items(), key=lambda item: item[1][0]):
        if row_key not in rows:
            return f"record {seq}: {name} row {row_key} it records was deleted"
        if rows[row_key] != columns:
            changed = sorted(c for c in columns if rows[row_key].get(c) != columns[c])
            return f"record {seq}: {name} row {row_key} was altered ({', '.join(changed)})"
    unrecorded = sorted(set(rows) - set(recorded), key=str)
    if unrecorded:
        return f"{name} row {unrecorded[0]} has no record in the audit chain (written around it)"
    return None


def head(db: Database, chain: Table) -> tuple[int, str]:
    with db.read() as s:
        row = s.execute(select(chain.c.seq, chain.c.digest).order_by(chain.c.seq.desc()).limit(1)).first()
    return (int(row.seq), str(row.digest)) if row else (0, GENESIS)


def install_audit_metrics(registry: CollectorRegistry, read_head: Callable[[], tuple[int, str]]) -> None:
    """The chain's head at each scrape: its position, and its digest's first 12 hex digits as a number
    (exact in a float), so Prometheus keeps a history of heads to check the chain against."""
    position = Gauge("suite_audit_chain_head_position", "Records in the service's audit chain", registry=registry)
    digest = Gauge(
        "suite_audit_chain_head_digest_prefix",
        "The first 48 bits of the newest audit record's digest, as a number",
        registry=registry,
    )

    def read(part: int) -> float:
        try:
            seq, last = read_head()
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database is away
            return float("nan")
        return float(seq) if part == 0 else float(int(last[:12], 16))

    position.set_function(lambda: read(0))
    digest.set_function(lambda: read(1))
