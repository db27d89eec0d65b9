"""Transactions from core banking (batch ingest, idempotent by external id), asset snapshots and the
per-customer summary, aggregated by the database."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from pydantic import TypeAdapter
from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from services.common.db import Database, in_values, insert_rows, table_of
from services.common.errors import InvalidInput
from services.common.money import fen_to_str, str_to_fen
from services.common.pagination import cursor_invalid, decode_cursor, newest_first, page_of, time_id_key
from services.profile.models import AssetSnapshot, Customer, TransactionExternalId, TransactionRecord
from services.profile.schemas.transactions import (
    AssetSnapshotRead,
    BatchItemResult,
    BatchResult,
    Breakdown,
    CustomerSummary,
    SummaryWindow,
    TransactionIn,
    TransactionRead,
)
from services.profile.service.batches import Refusals, validated, write_batch
from services.profile.service.events import copy_lines, record_event_texts, record_events, uuid7_strings
from services.profile.service.guards import require_customer_row

FUTURE_SKEW = timedelta(minutes=5)  # core banking clocks may run a little ahead of ours
SUMMARY_WINDOWS = (30, 90)
_record = TypeAdapter(TransactionIn)
_T = table_of(TransactionRecord)
_A = table_of(AssetSnapshot)
_K = table_of(TransactionExternalId)
_C = table_of(Customer)


@dataclass
class _Batch(Refusals):
    recorded: list[BatchItemResult] = field(default_factory=list)
    duplicates: list[BatchItemResult] = field(default_factory=list)


def _parse(items: list[Any], now: datetime, batch: _Batch) -> list[tuple[int, TransactionIn]]:
    """The records that pass the rules one record can be checked against alone."""
    good: list[tuple[int, TransactionIn]] = []
    seen: set[str] = set()
    for i, rec in validated(items, _record, batch):
        problem = _record_rule(rec, now)
        if problem:
            name, msg = problem
            error = {"loc": ["items", i, name], "msg": msg, "type": "value_error"}
            batch.reject(i, rec.external_id, "validation_failed", f"{name}: {msg}", [error])
        elif rec.external_id in seen:
            batch.reject(i, rec.external_id, "external_id_repeated", "this external_id appears earlier in the batch")
        else:
            seen.add(rec.external_id)
            good.append((i, rec))
    return good


def _record_rule(rec: TransactionIn, now: datetime) -> tuple[str, str] | None:
    if rec.kind == "reversal" and rec.reverses_external_id is None:
        return "reverses_external_id", "required for a reversal"
    if rec.kind != "reversal" and rec.reverses_external_id is not None:
        return "reverses_external_id", "only a reversal names an original"
    if rec.reverses_external_id == rec.external_id:
        return "reverses_external_id", "a transaction cannot reverse itself"
    if rec.occurred_at > now + FUTURE_SKEW:
        return "occurred_at", "lies in the future"
    return None


def _same(row, rec: TransactionIn) -> bool:
    return (
        row.customer_id == rec.customer_id
        and row.kind == rec.kind
        and row.amount_fen == str_to_fen(rec.amount)
        and row.channel == rec.channel
        and row.occurred_at == rec.occurred_at
        and row.reverses_external_id == rec.reverses_external_id
    )


def ingest_transactions(db: Database, *, items: list[Any], now: datetime) -> BatchResult:
    """Stores every acceptable record of the batch in one transaction with one transaction.recorded
    event each. A record already stored with the same content is a duplicate (nothing changes); with
    other content it is rejected (external_id_conflict)."""
    batch = write_batch(db, _Batch, lambda b: _parse(items, now, b), lambda s, good, b: _store(s, good, b, now))
    return BatchResult(
        recorded_count=len(batch.recorded),
        duplicate_count=len(batch.duplicates),
        rejected_count=len(batch.rejected),
        recorded=batch.recorded,
        duplicates=batch.duplicates,
        rejected=batch.in_order(),
    )


def _store(s: Session, good: list[tuple[int, TransactionIn]], batch: _Batch, now: datetime) -> None:
    if not good:
        return
    dialect = s.get_bind().dialect.name
    ids = {rec.external_id for _, rec in good} | {r.reverses_external_id for _, r in good if r.reverses_external_id}
    stored = _stored(s, ids)
    wanted = {rec.customer_id for _, rec in good}
    customers = set(s.execute(select(_C.c.id).where(in_values(s, _C.c.id, list(wanted)))).scalars())
    new: list[_New] = []
    accepted: dict[str, TransactionIn] = {}
    for (i, rec), tid in zip(good, uuid7_strings(len(good)), strict=True):
        if (old := stored.get(rec.external_id)) is not None:
            if _same(old, rec):
                batch.duplicates.append(BatchItemResult(index=i, external_id=rec.external_id, transaction_id=old.id))
            else:
                batch.reject(i, rec.external_id, "external_id_conflict", "already recorded with other content")
            continue
        if rec.customer_id not in customers:
            batch.reject(i, rec.external_id, "customer_not_found", f"No customer {rec.customer_id}")
            continue
        if rec.reverses_external_id and (problem := _reversal_problem(rec, stored, accepted)):
            batch.reject(i, rec.external_id, *problem)
            continue
        accepted[rec.external_id] = rec
        new.append(_New(tid, rec, str_to_fen(rec.amount), _utc_iso(rec.occurred_at)))
        batch.recorded.append(BatchItemResult(index=i, external_id=rec.external_id, transaction_id=tid))
    if new:
        _write(s, new, now, dialect)


def _reversal_problem(rec: TransactionIn, stored: dict, accepted: dict[str, TransactionIn]) -> tuple[str, str] | None:
    original = accepted.get(rec.reverses_external_id) or stored.get(rec.reverses_external_id)
    if original is None:
        return "reversal_original_not_found", "reverses_external_id names no recorded transaction"
    if original.customer_id != rec.customer_id:
        return "reversal_customer_mismatch", "the original belongs to another customer"
    if original.kind == "reversal":
        return "reversal_of_reversal", "a reversal cannot be reversed"
    return None


def _stored(s: Session, ids: set[str]) -> dict[str, Any]:
    """The stored transactions among `ids`, by external id. The key table answers first, from one
    index; only the keys it holds (none, for a batch of new transactions) are read from the records,
    where a lookup by external id probes every monthly partition."""
    found = list(s.execute(select(_K.c.external_id).where(in_values(s, _K.c.external_id, list(ids)))).scalars())
    if not found:
        return {}
    cols: tuple[Any, ...] = (_T.c.id, _T.c.external_id, _T.c.customer_id, _T.c.kind, _T.c.amount_fen, _T.c.channel)
    cols += (_T.c.occurred_at, _T.c.reverses_external_id)
    return {r.external_id: r for r in s.execute(select(*cols).where(in_values(s, _T.c.external_id, found)))}


def _utc_iso(at: datetime) -> str:
    """ISO 8601 in UTC with `Z`, as the event contract writes times (a record may arrive with any offset)."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _New(NamedTuple):
    """A transaction to store: its new id, the record, its amount in fen, occurred_at (_utc_iso)."""

    id: str
    rec: TransactionIn
    fen: int
    occurred: str


_RECORD_COLUMNS = ["id", "external_id", "customer_id", "kind", "amount_fen", "channel", "occurred_at"]
_RECORD_COLUMNS += ["customer_initiated", "reverses_external_id", "recorded_at"]


def _write(s: Session, new: list[_New], now: datetime, dialect: str) -> None:
    """The keys, the records and one transaction.recorded event each. The keys go first: a concurrent
    batch that stored one of them fails there (unique violation). On PostgreSQL each table is one COPY
    of lines written here: every value is an id, a literal or a number that COPY's text format and
    JSON carry as they are (external ids are letters, digits and `._:-`), so nothing needs escaping."""
    if dialect == "postgresql":
        copy_lines(s, _K, ["external_id"], "".join(f"{n.rec.external_id}\n" for n in new))
        recorded_at = now.isoformat()
        copy_lines(s, _T, _RECORD_COLUMNS, "".join(_record_line(n, recorded_at) for n in new))
    else:
        insert_rows(s, _K, [{"external_id": n.rec.external_id} for n in new])
        insert_rows(s, _T, [_row(n, now) for n in new])
    record_event_texts(s, "transaction.recorded", [(str(n.rec.customer_id), _event_json(n)) for n in new], now)


def _record_line(n: _New, recorded_at: str) -> str:
    rec, null = n.rec, "\\N"
    flag = "t" if rec.customer_initiated else "f"
    return (
        f"{n.id}\t{rec.external_id}\t{rec.customer_id}\t{rec.kind}\t{n.fen}\t{rec.channel}\t{n.occurred}\t{flag}\t"
        f"{rec.reverses_external_id or null}\t{recorded_at}\n"
    )


def _row(n: _New, now: datetime) -> dict[str, Any]:
    rec = n.rec
    return {
        "id": uuid.UUID(n.id),
        "external_id": rec.external_id,
        "customer_id": rec.customer_id,
        "kind": rec.kind,
        "amount_fen": n.fen,
        "channel": rec.channel,
        "occurred_at": rec.occurred_at,
        "customer_initiated": rec.customer_initiated,
        "reverses_external_id": rec.reverses_external_id,
        "recorded_at": now,
    }


def _event_json(n: _New) -> str:
    """transaction.recorded's data (docs/events/profile/transaction.recorded.json) exactly as
    `json.dumps` writes it, without the encoder's cost: no value needs escaping (see _write)."""
    rec = n.rec
    reverses = f'"{rec.reverses_external_id}"' if rec.reverses_external_id else "null"
    return (
        f'{{"transaction_id": "{n.id}", "external_id": "{rec.external_id}", "kind": "{rec.kind}", '
        f'"amount": "{fen_to_str(n.fen)}", "amount_fen": {n.fen}, "channel": "{rec.channel}", '
        f'"occurred_at": "{n.occurred}", '
        f'"customer_initiated": {"true" if rec.customer_initiated else "false"}, "reverses_external_id": {reverses}}}'
    )


def present_transaction(r) -> TransactionRead:
    return TransactionRead(
        id=r.id,
        external_id=r.external_id,
        customer_id=r.customer_id,
        kind=r.kind,
        amount=fen_to_str(r.amount_fen),
        amount_fen=r.amount_fen,
        channel=r.channel,
        occurred_at=r.occurred_at,
        customer_initiated=r.customer_initiated,
        reverses_external_id=r.reverses_external_id,
        recorded_at=r.recorded_at,
    )


@dataclass(frozen=True)
class TransactionFilter:
    customer_id: uuid.UUID
    kind: str | None = None
    channel: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


def list_transactions(
    db: Database, *, filters: TransactionFilter, limit: int, cursor: str | None
) -> tuple[list[TransactionRead], str | None]:
    """Newest first (occurred_at, then id); `occurred_from` inclusive, `occurred_to` exclusive."""
    stmt = transactions_query(filters, limit, cursor)
    with db.read() as s:
        require_customer_row(s, filters.customer_id)
        rows = [present_transaction(r) for r in s.execute(stmt)]
    return page_of(rows, limit, key=time_id_key("occurred_at"))


def transactions_query(filters: TransactionFilter, limit: int, cursor: str | None) -> Select[Any]:
    """The list's query. Its time bounds are on the partition key, so on PostgreSQL a bounded window
    scans only the months it covers (tests/profile/test_partitions.py shows the plan)."""
    stmt = select(_T).where(_T.c.customer_id == filters.customer_id)
    if filters.kind:
        stmt = stmt.where(_T.c.kind == filters.kind)
    if filters.channel:
        stmt = stmt.where(_T.c.channel == filters.channel)
    if filters.occurred_from:
        stmt = stmt.where(_T.c.occurred_at >= filters.occurred_from)
    if filters.occurred_to:
        stmt = stmt.where(_T.c.occurred_at < filters.occurred_to)
    return newest_first(stmt, _T.c.occurred_at, _T.c.id, cursor, limit)


def put_asset_snapshot(
    db: Database, *, customer_id: uuid.UUID, as_of_date: date, aum_fen: int, now: datetime
) -> tuple[AssetSnapshotRead, bool]:
    """(snapshot, created). The same value again changes nothing; a new date or a corrected value
    records assets.updated."""
    if as_of_date > now.date():
        raise InvalidInput([{"loc": ["path", "as_of_date"], "msg": "lies in the future", "type": "value_error"}])
    with db.write() as s:
        # The customer's row lock serialises concurrent snapshots for it, so the read-then-write
        # below cannot race into the unique constraint on PostgreSQL.
        require_customer_row(s, customer_id, lock=True)
        snap = s.execute(
            select(AssetSnapshot).where(
                AssetSnapshot.customer_id == customer_id, AssetSnapshot.as_of_date == as_of_date
            )
        ).scalar_one_or_none()
        created = snap is None
        if snap is not None and snap.aum_fen == aum_fen:
            return present_snapshot(snap), False
        if snap is None:
            snap = AssetSnapshot(customer_id=customer_id, as_of_date=as_of_date, aum_fen=aum_fen, recorded_at=now)
            s.add(snap)
        else:
            snap.aum_fen, snap.recorded_at = aum_fen, now
        s.flush()
        record_events(s, [assets_updated(customer_id, as_of_date, aum_fen)], now)
        s.commit()
        return present_snapshot(snap), created


def assets_updated(customer_id: uuid.UUID, as_of_date: date, aum_fen: int) -> tuple[str, str, dict[str, Any]]:
    """The assets.updated event of a new or corrected snapshot, for record_events."""
    data = {"as_of_date": as_of_date.isoformat(), "aum": fen_to_str(aum_fen), "aum_fen": aum_fen}
    return "assets.updated", str(customer_id), data


def present_snapshot(r) -> AssetSnapshotRead:
    return AssetSnapshotRead(
        customer_id=r.customer_id,
        as_of_date=r.as_of_date,
        aum=fen_to_str(r.aum_fen),
        aum_fen=r.aum_fen,
        recorded_at=r.recorded_at,
    )


def list_asset_snapshots(
    db: Database, *, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[AssetSnapshotRead], str | None]:
    """Newest date first."""
    before = decode_cursor(cursor, (str,))
    stmt = select(_A).where(_A.c.customer_id == customer_id)
    if before is not None:
        try:
            stmt = stmt.where(_A.c.as_of_date < date.fromisoformat(before[0]))
        except ValueError:
            raise cursor_invalid() from None
    stmt = stmt.order_by(_A.c.as_of_date.desc()).limit(limit + 1)
    with db.read() as s:
        require_customer_row(s, customer_id)
        rows = [present_snapshot(r) for r in s.execute(stmt)]
    return page_of(rows, limit, key=lambda a: [a.as_of_date.isoformat()])


def customer_summary(db: Database, *, customer_id: uuid.UUID, now: datetime) -> CustomerSummary:
    """Current AUM, last transaction time, and count and amount by kind and by channel over the last
    30 and 90 days, net of reversals: a reversed transaction and its reversal are both left out, as
    segmentation's windows leave them out. The database does the counting in one GROUP BY (kind,
    channel) over the window, on a covering index; at most 7 x 4 group rows come back, and folding
    them into the by-kind and by-channel views is arithmetic on aggregates, never on transaction rows."""
    since = {d: now - timedelta(days=d) for d in SUMMARY_WINDOWS}
    reversed_ids = select(_T.c.reverses_external_id).where(
        _T.c.customer_id == customer_id,
        _T.c.kind == "reversal",
        _T.c.reverses_external_id.is_not(None),
        _T.c.occurred_at <= now,
    )
    kept = (_T.c.customer_id == customer_id, _T.c.kind != "reversal", _T.c.external_id.not_in(reversed_ids))
    sums = []
    for d in SUMMARY_WINDOWS:
        hit = _T.c.occurred_at >= since[d]
        sums += [
            func.sum(case((hit, 1), else_=0)).label(f"c{d}"),
            func.sum(case((hit, _T.c.amount_fen), else_=0)).label(f"a{d}"),
        ]
    groups_stmt = (
        select(_T.c.kind, _T.c.channel, *sums)
        .where(*kept, _T.c.occurred_at >= since[max(SUMMARY_WINDOWS)], _T.c.occurred_at <= now)
        .group_by(_T.c.kind, _T.c.channel)
    )
    last_at = select(func.max(_T.c.occurred_at)).where(*kept)
    aum = select(_A.c.aum_fen, _A.c.as_of_date).where(_A.c.customer_id == customer_id)
    aum = aum.order_by(_A.c.as_of_date.desc()).limit(1)
    with db.read() as s:
        require_customer_row(s, customer_id)
        groups = [g._mapping for g in s.execute(groups_stmt)]
        last = s.execute(last_at).scalar()
        snap = s.execute(aum).first()
    return CustomerSummary(
        customer_id=customer_id,
        as_of=now,
        aum=fen_to_str(snap.aum_fen) if snap else None,
        aum_fen=snap.aum_fen if snap else None,
        aum_as_of_date=snap.as_of_date if snap else None,
        last_transaction_at=last,
        windows=[_window(d, groups) for d in SUMMARY_WINDOWS],
    )


def _window(days: int, groups) -> SummaryWindow:
    def fold(dim: str) -> list[Breakdown]:
        totals: dict[str, list[int]] = {}
        for g in groups:
            t = totals.setdefault(g[dim], [0, 0])
            t[0] += int(g[f"c{days}"] or 0)
            t[1] += int(g[f"a{days}"] or 0)
        return [
            Breakdown(key=k, count=c, amount=fen_to_str(a), amount_fen=a) for k, (c, a) in sorted(totals.items()) if c
        ]

    by_kind = fold("kind")
    count, fen = sum(b.count for b in by_kind), sum(b.amount_fen for b in by_kind)
    return SummaryWindow(
        days=days, count=count, amount=fen_to_str(fen), amount_fen=fen, by_kind=by_kind, by_channel=fold("channel")
    )
