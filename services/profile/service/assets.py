"""Asset snapshots in bulk: core banking's daily assets under management for many customers in one
call, with the single PUT's semantics per item (new, corrected or unchanged; never a future date),
each bad item refused alone."""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import bindparam, select, tuple_, update
from sqlalchemy.orm import Session

from services.common.db import Database, insert_rows, table_of
from services.common.money import str_to_fen
from services.profile.models import AssetSnapshot, Customer
from services.profile.schemas.transactions import AssetSnapshotBatchResult, AssetSnapshotItem, SnapshotItemResult
from services.profile.service.batches import Refusals, validated, write_batch
from services.profile.service.events import record_events
from services.profile.service.transactions import assets_updated

_item = TypeAdapter(AssetSnapshotItem)
_A = table_of(AssetSnapshot)
_C = table_of(Customer)


@dataclass
class _Batch(Refusals):
    created: list[SnapshotItemResult] = field(default_factory=list)
    replaced: list[SnapshotItemResult] = field(default_factory=list)
    unchanged: list[SnapshotItemResult] = field(default_factory=list)


def put_asset_snapshots(db: Database, *, items: list[Any], now: datetime) -> AssetSnapshotBatchResult:
    """Stores every acceptable snapshot in one transaction, recording assets.updated for each new or
    corrected one. The customers' rows are locked (in id order, so two batches cannot deadlock), which
    serialises each customer's snapshot writers as the single PUT does."""
    batch = write_batch(db, _Batch, lambda b: _parse(items, now, b), lambda s, good, b: _store(s, good, b, now))
    return AssetSnapshotBatchResult(
        created_count=len(batch.created),
        replaced_count=len(batch.replaced),
        unchanged_count=len(batch.unchanged),
        rejected_count=len(batch.rejected),
        created=batch.created,
        replaced=batch.replaced,
        unchanged=batch.unchanged,
        rejected=batch.in_order(),
    )


def _parse(items: list[Any], now: datetime, batch: _Batch) -> list[tuple[int, AssetSnapshotItem]]:
    good: list[tuple[int, AssetSnapshotItem]] = []
    seen: set[tuple[uuid.UUID, date]] = set()
    for i, snap in validated(items, _item, batch):
        key = (snap.customer_id, snap.as_of_date)
        if snap.as_of_date > now.date():
            error = {"loc": ["items", i, "as_of_date"], "msg": "lies in the future", "type": "value_error"}
            batch.reject(i, None, "validation_failed", "as_of_date: lies in the future", [error])
        elif key in seen:
            batch.reject(i, None, "snapshot_repeated", "this customer and date appear earlier in the batch")
        else:
            seen.add(key)
            good.append((i, snap))
    return good


def _store(s: Session, good: list[tuple[int, AssetSnapshotItem]], batch: _Batch, now: datetime) -> None:
    if not good:
        return
    wanted = sorted({snap.customer_id for _, snap in good})
    lock = select(_C.c.id).where(_C.c.id.in_(wanted)).order_by(_C.c.id).with_for_update()
    customers = set(s.execute(lock).scalars())
    keys = [(snap.customer_id, snap.as_of_date) for _, snap in good]
    stored = {
        (r.customer_id, r.as_of_date): r
        for r in s.execute(
            select(_A.c.id, _A.c.customer_id, _A.c.as_of_date, _A.c.aum_fen).where(
                tuple_(_A.c.customer_id, _A.c.as_of_date).in_(keys)
            )
        )
    }
    new_rows: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    events = []
    for i, snap in good:
        result = SnapshotItemResult(index=i, customer_id=snap.customer_id, as_of_date=snap.as_of_date)
        aum_fen = str_to_fen(snap.aum)
        old = stored.get((snap.customer_id, snap.as_of_date))
        if snap.customer_id not in customers:
            batch.reject(i, None, "customer_not_found", f"No customer {snap.customer_id}")
            continue
        if old is not None and old.aum_fen == aum_fen:
            batch.unchanged.append(result)
            continue
        if old is None:
            new_rows.append(
                {"customer_id": snap.customer_id, "as_of_date": snap.as_of_date, "aum_fen": aum_fen, "recorded_at": now}
            )
            batch.created.append(result)
        else:
            changes.append({"snapshot_id": old.id, "new_aum_fen": aum_fen})
            batch.replaced.append(result)
        events.append(assets_updated(snap.customer_id, snap.as_of_date, aum_fen))
    insert_rows(s, _A, new_rows)
    if changes:
        stmt = update(_A).where(_A.c.id == bindparam("snapshot_id"))
        s.execute(stmt.values(aum_fen=bindparam("new_aum_fen"), recorded_at=now), changes)
    record_events(s, events, now)
