"""The product catalogue: deposits, wealth products (R1-R5), loans, cards and insurance, each with
its target classes and needs tag. Products are versioned (ETag / If-Match), can be changed and
retired; a retired product stays readable but is never recommended again."""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Row, exc, insert, select, update
from sqlalchemy.orm import Session

from services.common.approvals import Approval, ApprovalBook, maker_of
from services.common.audit_chain import append as append_audit
from services.common.auth import Principal
from services.common.db import Database, is_unique_violation, rows_affected
from services.common.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from services.common.etag import check_version
from services.common.idempotency import IdempotencyRequest, StoredResponse, find_stored, store_response
from services.common.pagination import decode_cursor, page_of
from services.segmentation.models import audit_chain, idempotency, product
from services.segmentation.service.segments import stored_after_race


def product_not_found(product_id: Any) -> NotFound:
    return NotFound(f"No product {product_id}", code="product_not_found")


def _check_risk(category: str, risk_level: str | None) -> None:
    if category == "wealth" and risk_level is None:
        raise InvalidInput(
            [
                {
                    "loc": ["body", "risk_level"],
                    "msg": "a wealth product needs a risk level R1-R5",
                    "type": "missing_for_category",
                }
            ]
        )


def product_retired(product_id: Any) -> Conflict:
    return Conflict(f"Product {product_id} is retired and can no longer be changed", code="product_retired")


def create_product(
    db: Database,
    *,
    product_in: dict[str, Any],
    actor: Principal,
    now: datetime,
    idem: IdempotencyRequest | None = None,
    present: Callable[[Row], dict[str, Any]] | None = None,
) -> Row | StoredResponse:
    """A new catalogue entry; with an Idempotency-Key the 201 body is stored in the same transaction
    and a replay returns it (StoredResponse)."""
    _check_risk(product_in["category"], product_in.get("risk_level"))
    product_id = str(uuid.uuid4())
    with db.write() as s:
        if idem and (stored := find_stored(s, idempotency, idem)):
            return stored
        try:
            s.execute(insert(product).values(id=product_id, created_at=now, updated_at=now, **product_in))
            _audit(s, actor, "product.created", product_id, 1, sorted(product_in), now)
            if idem and present is not None:
                store_response(
                    s,
                    idempotency,
                    idem,
                    201,
                    present(s.execute(select(product).where(product.c.id == product_id)).one()),
                )
            s.commit()
            lost_race = False
        except exc.IntegrityError as err:
            if not is_unique_violation(err):
                raise
            lost_race = True
    if lost_race:
        if stored := stored_after_race(db, idem):
            return stored
        code = product_in["code"]
        raise Conflict(f"A product with code {code!r} exists", code="product_code_taken")
    return require_product(db, product_id=product_id)


def require_product(db: Database, *, product_id: str) -> Row:
    row = db.first_row(select(product).where(product.c.id == product_id))
    if row is None:
        raise product_not_found(product_id)
    return row


def list_products(db: Database, *, category: str | None, limit: int, cursor: str | None):
    after = decode_cursor(cursor, (str,))
    stmt = select(product).order_by(product.c.code).limit(limit + 1)
    if category is not None:
        stmt = stmt.where(product.c.category == category)
    if after is not None:
        stmt = stmt.where(product.c.code > after[0])
    with db.read() as s:
        rows = s.execute(stmt).all()
    return page_of(rows, limit, lambda r: [r.code])


def _current_for_change(s: Session, product_id: str, expected_version: int | None) -> Row:
    current = s.execute(select(product).where(product.c.id == product_id)).first()
    if current is None:
        raise product_not_found(product_id)
    check_version(current.version, expected_version)
    if not current.is_active:
        raise product_retired(product_id)
    return current


def _audit(s: Session, actor: Principal, action: str, product_id: str, version: int, fields, now: datetime) -> None:
    """What is sold to whom is a sensitive write: each version of a product is in the audit chain."""
    detail = {"product_id": product_id, "version": version, "fields": list(fields)}
    append_audit(
        s,
        audit_chain,
        action=action,
        actor_sub=actor.sub,
        actor_role=actor.role,
        subject=product_id,
        at=now,
        detail=detail,
    )


def _write_version(s: Session, current: Row, **values) -> None:
    moved = rows_affected(
        s.execute(
            update(product)
            .where(product.c.id == current.id, product.c.version == current.version)
            .values(**values, version=current.version + 1)
        )
    )
    if moved != 1:  # another writer got there first
        raise PreconditionFailed("The product changed meanwhile; read it again")


def update_product(
    db: Database,
    *,
    product_id: str,
    changes: dict[str, Any],
    expected_version: int | None,
    actor: Principal,
    now: datetime,
) -> Row:
    """A new version of an active product (the code never changes); 412 when `expected_version` is
    stale, 409 product_retired for a retired one, 422 when a wealth product would lose its risk level."""
    with db.write() as s:
        current = _current_for_change(s, product_id, expected_version)
        if not changes:
            return current
        _check_risk(changes.get("category", current.category), changes.get("risk_level", current.risk_level))
        _write_version(s, current, **changes, updated_at=now)
        _audit(s, actor, "product.changed", product_id, current.version + 1, sorted(changes), now)
        s.commit()
    return require_product(db, product_id=product_id)


RETIRE = "product.retire"


def retire_product(
    db: Database,
    *,
    product_id: str,
    expected_version: int | None,
    actor: Principal,
    now: datetime,
    book: ApprovalBook | None = None,
) -> Row | Approval:
    """Takes a product out of recommendations for good; it stays readable. 409 product_retired when
    it is retired already, 412 when `expected_version` is stale. With `book` (dual control), the
    retirement is stored as a pending approval request (returned), done when another supervisor
    approves it; 409 approval_pending while one waits."""
    if book is not None:
        with db.read() as s:
            current = _current_for_change(s, product_id, expected_version)
        payload = {"product_id": product_id, "version": current.version}
        return book.request_alone(
            db, action=RETIRE, object_id=product_id, payload=payload, why="retirement", maker=actor, now=now
        )
    with db.write() as s:
        _retire(s, product_id, expected_version, actor, now)
        s.commit()
    return require_product(db, product_id=product_id)


def _retire(s: Session, product_id: str, expected_version: int | None, actor: Principal, now: datetime) -> int:
    current = _current_for_change(s, product_id, expected_version)
    _write_version(s, current, is_active=False, retired_at=now, updated_at=now)
    _audit(s, actor, "product.retired", product_id, current.version + 1, ["is_active"], now)
    return int(current.version) + 1


def retire_approved(s: Session, row: Approval, _checker: Principal, now: datetime) -> dict[str, Any]:
    """Retires the product in the maker's name (412 when it changed since the request, 409 when it was
    retired meanwhile: the request stays pending, and a checker rejects it)."""
    p = row["payload"]
    return {"version": _retire(s, p["product_id"], p["version"], maker_of(row), now)}
