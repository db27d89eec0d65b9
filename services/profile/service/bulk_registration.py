"""Registering customers a thousand at a time, for migrating an existing customer base: every item
passes the rules of a single registration and is refused alone when it fails them; the source
system's id for the customer (`external_id`) makes each item idempotent; one transaction and one
customer.registered event per customer registered."""

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.auth import Principal
from services.common.db import Database, insert_rows, table_of
from services.common.errors import ProblemError
from services.profile.models import Customer, CustomerImport, branch
from services.profile.schemas.customers import CustomerBatchItemResult, CustomerBatchResult
from services.profile.schemas.customers import CustomerImport as CustomerImportIn
from services.profile.service.batches import Refusals, item_errors, validated, write_batch
from services.profile.service.customers import Privacy, audit_change, id_lookup_hash
from services.profile.service.events import record_events
from services.profile.service.registration import (
    Identity,
    identity_of,
    new_customer,
    next_customer_nos,
    registered_event_data,
)

FINGERPRINT_FIELD = "customer_import.item"
_item = TypeAdapter(CustomerImportIn)
_C = table_of(Customer)
_I = table_of(CustomerImport)
_B = branch


@dataclass
class _Batch(Refusals):
    registered: list[CustomerBatchItemResult] = field(default_factory=list)
    duplicates: list[CustomerBatchItemResult] = field(default_factory=list)


@dataclass(frozen=True)
class _Item:
    index: int
    item: CustomerImportIn
    identity: Identity
    id_hash: str
    fingerprint: str


def register_customers(
    db: Database, *, items: list[Any], actor: Principal, privacy: Privacy, now: datetime
) -> CustomerBatchResult:
    """An item whose external_id was imported before from the same item is a duplicate (nothing
    changes); from another item it is refused external_id_conflict. An identity registered already
    (by any path) is refused customer_duplicate, naming the customer."""
    batch = write_batch(
        db,
        _Batch,
        lambda b: _parse(items, actor, privacy, b),
        lambda s, good, b: _store(s, good, b, actor, privacy, now),
    )
    return CustomerBatchResult(
        registered_count=len(batch.registered),
        duplicate_count=len(batch.duplicates),
        rejected_count=len(batch.rejected),
        registered=batch.registered,
        duplicates=batch.duplicates,
        rejected=batch.in_order(),
    )


def _parse(items: list[Any], actor: Principal, privacy: Privacy, batch: _Batch) -> list[_Item]:
    """The items that pass every rule one item can be checked against alone, and are not repeated."""
    good: list[_Item] = []
    seen_ids: set[str] = set()
    seen_hashes: set[str] = set()
    for i, item in validated(items, _item, batch):
        ext = item.external_id
        try:
            identity = identity_of(item, actor)
        except ProblemError as err:
            errors = item_errors(i, err.extra.get("errors", []))
            batch.reject(i, ext, err.code, err.detail, errors)
            continue
        id_hash = id_lookup_hash(privacy.vault, identity.type, identity.key)
        if ext in seen_ids:
            batch.reject(i, ext, "external_id_repeated", "this external_id appears earlier in the batch")
        elif id_hash in seen_hashes:
            batch.reject(i, ext, "customer_duplicate", "an earlier item in the batch has this identity")
        else:
            seen_ids.add(ext)
            seen_hashes.add(id_hash)
            good.append(_Item(i, item, identity, id_hash, _fingerprint(item, privacy)))
    return good


def _fingerprint(item: CustomerImportIn, privacy: Privacy) -> str:
    """A keyed hash of the item as validated (normalised), so a replay matches however it was spelt."""
    canonical = json.dumps(item.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return privacy.vault.lookup_hash(canonical, FINGERPRINT_FIELD)


def _store(s: Session, good: list[_Item], batch: _Batch, actor: Principal, privacy: Privacy, now: datetime) -> None:
    if not good:
        return
    ids = [g.item.external_id for g in good]
    imported = {
        r.external_id: r
        for r in s.execute(
            select(_I.c.external_id, _I.c.fingerprint, _C.c.id, _C.c.customer_no)
            .join(_C, _C.c.id == _I.c.customer_id)
            .where(_I.c.external_id.in_(ids))
        )
    }
    branch_codes = {g.item.branch_code for g in good}
    open_branches = set(
        s.execute(select(_B.c.code).where(_B.c.code.in_(branch_codes), _B.c.status == "open")).scalars()
    )
    hashes = [g.id_hash for g in good]
    taken_rows = s.execute(select(_C.c.id_number_hash, _C.c.id).where(_C.c.id_number_hash.in_(hashes)))
    taken = {r.id_number_hash: r.id for r in taken_rows}
    fresh: list[_Item] = []
    for g in good:
        ext = g.item.external_id
        if (old := imported.get(ext)) is not None:
            if old.fingerprint == g.fingerprint:
                batch.duplicates.append(_result(g.index, ext, old.id, old.customer_no))
            else:
                batch.reject(g.index, ext, "external_id_conflict", "already imported from another item")
        elif g.item.branch_code not in open_branches:
            msg = f"no open branch {g.item.branch_code} in the organisation (GET /v1/branches)"
            errors = item_errors(g.index, [{"loc": ["body", "branch_code"], "msg": msg, "type": "unknown_branch"}])
            batch.reject(g.index, ext, "validation_failed", msg, errors)
        elif (existing := taken.get(g.id_hash)) is not None:
            detail = f"A customer with this identity number is already registered: {existing}"
            batch.reject(g.index, ext, "customer_duplicate", detail)
        else:
            fresh.append(g)
    if fresh:
        _register(s, fresh, batch, actor, privacy, now)


def _register(s: Session, fresh: list[_Item], batch: _Batch, actor: Principal, privacy: Privacy, now: datetime) -> None:
    numbers = next_customer_nos(s, len(fresh))
    customers = [
        new_customer(no, g.item, g.identity, g.id_hash, privacy.vault) for no, g in zip(numbers, fresh, strict=True)
    ]
    insert_rows(s, _C, [{c.name: getattr(row, c.name) for c in _C.columns} for row in customers])
    imports = [
        {"external_id": g.item.external_id, "customer_id": c.id, "fingerprint": g.fingerprint, "imported_at": now}
        for g, c in zip(fresh, customers, strict=True)
    ]
    insert_rows(s, _I, imports)
    for g, c in zip(fresh, customers, strict=True):
        if g.identity.override:
            reason = g.identity.override
            audit_change(
                s,
                c.id,
                actor,
                action="identity_check.overridden",
                reason=reason,
                fields="credit_code",
                vault=privacy.vault,
            )
        batch.registered.append(_result(g.index, g.item.external_id, c.id, c.customer_no))
    record_events(s, [("customer.registered", str(c.id), registered_event_data(c)) for c in customers], now)


def _result(index: int, external_id: str, customer_id, customer_no: str) -> CustomerBatchItemResult:
    return CustomerBatchItemResult(
        index=index, external_id=external_id, customer_id=customer_id, customer_no=customer_no
    )
