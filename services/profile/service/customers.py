"""The customer registry: the personal-data settings, presenting a customer (masked), updates,
closing, search by exact identity or phone (keyed hash), reveals and the audit log."""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.auth import Principal
from services.common.context import current_request_id
from services.common.db import Database, PreparedRow, table_of, utcnow
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.common.etag import check_version
from services.common.outbox import record_event
from services.common.pagination import decode_cursor, id_key, newest_id_first, page_of
from services.common.pii import Mask, PersonalDataVault, mask_email
from services.profile.models import AuditEntry, Customer, outbox
from services.profile.schemas.customers import CustomerRead, CustomerUpdate, PersonalDataRead
from services.profile.service.identity import (
    normalise_credit_code,
    validate_resident_id,
)
from services.profile.service.phones import normalise_phone

ID_FIELD, PHONE_FIELD, EMAIL_FIELD = "customer.id_number", "customer.phone", "customer.email"
OVERRIDE_ROLES = frozenset({"supervisor", "admin"})
# Fields whose new values may travel in events; personal data never does.
EVENT_FIELDS = ("name", "contact_name", "region_type", "province", "city", "branch_code")


@dataclass(frozen=True)
class Privacy:
    vault: PersonalDataVault
    resident_id_mask: Mask
    credit_code_mask: Mask
    phone_mask: Mask
    reveal_roles: frozenset[str]


@dataclass(frozen=True)
class CustomerFilter:
    customer_no: str | None = None
    name_prefix: str | None = None
    branch_code: str | None = None
    type: str | None = None
    region_type: str | None = None
    status: str | None = None
    id_number: str | None = None
    phone: str | None = None


def customer_reader(db: Database) -> PreparedRow:
    """The hottest read there is, one customer by id, compiled once: the route and the fast path in
    front of FastAPI both answer through it (app.state.customer_by_id)."""
    return db.prepared_row(table_of(Customer), "id")


def customer_not_found(customer_id: Any) -> NotFound:
    return NotFound(f"No customer {customer_id}", code="customer_not_found")


def present_customer(c: Customer | Row, privacy: Privacy) -> CustomerRead:
    """The customer as every response shows it: identity number, phone and email masked. Built
    without validation (model_construct): every value comes from a stored, already-validated row."""
    v = privacy.vault
    id_mask = privacy.resident_id_mask if c.id_type == "resident_id" else privacy.credit_code_mask
    return CustomerRead.model_construct(
        id=c.id,
        customer_no=c.customer_no,
        type=c.type,
        name=c.name,
        id_type=c.id_type,
        id_number=id_mask.apply(v.decrypt(c.id_number_enc, ID_FIELD)),
        phone=privacy.phone_mask.apply(v.decrypt(c.phone_enc, PHONE_FIELD)),
        email=mask_email(v.decrypt(c.email_enc, EMAIL_FIELD)) if c.email_enc else None,
        contact_name=c.contact_name,
        region_type=c.region_type,
        province=c.province,
        city=c.city,
        branch_code=c.branch_code,
        status=c.status,
        created_at=c.created_at,
        updated_at=c.updated_at,
        closed_at=c.closed_at,
        version=c.version,
    )


def audit_change(
    s: Session, customer_id: uuid.UUID, actor: Principal, *, action: str, reason: str, fields: str
) -> None:
    s.add(
        AuditEntry(
            customer_id=customer_id,
            action=action,
            actor_sub=actor.sub,
            actor_role=actor.role,
            reason=reason,
            fields=fields,
            request_id=current_request_id(),
        )
    )


_CUSTOMER_COLUMNS = table_of(Customer)


def update_customer(
    db: Database, *, customer_id: uuid.UUID, changes: CustomerUpdate, expected_version: int | None, privacy: Privacy
) -> Customer:
    """Records customer.updated naming the changed fields; 409 customer_closed, 412 when stale."""
    sent = changes.model_fields_set
    nulls = [f for f in sent if getattr(changes, f) is None and f != "email"]
    if nulls:
        raise InvalidInput([{"loc": ["body", f], "msg": "may not be null", "type": "null_not_allowed"} for f in nulls])
    with db.write() as s:
        c = _locked_active(s, customer_id, expected_version)
        v = privacy.vault
        changed: list[str] = []
        for field in sorted(sent):
            new = getattr(changes, field)
            if field == "phone":
                if v.lookup_hash(new, PHONE_FIELD) != c.phone_hash:
                    c.phone_enc, c.phone_hash = v.encrypt(new, PHONE_FIELD), v.lookup_hash(new, PHONE_FIELD)
                    changed.append(field)
            elif field == "email":
                old = v.decrypt(c.email_enc, EMAIL_FIELD) if c.email_enc else None
                if new != old:
                    c.email_enc = v.encrypt(new, EMAIL_FIELD) if new else None
                    changed.append(field)
            elif getattr(c, field) != new:
                setattr(c, field, new)
                changed.append(field)
        if not changed:
            return c
        c.version += 1
        c.updated_at = utcnow()
        record_event(
            s,
            outbox,
            type="customer.updated",
            subject_id=str(c.id),
            data={
                "customer_no": c.customer_no,
                "changed": changed,
                **{f: getattr(c, f) for f in changed if f in EVENT_FIELDS and _may_travel(c, f)},
            },
        )
        s.commit()
        return c


def _may_travel(c: Customer, field: str) -> bool:
    """A person's name is personal data and stays out of events (docs/events.md: organisations only)."""
    return field != "name" or c.type != "individual"


def close_customer(
    db: Database, *, customer_id: uuid.UUID, expected_version: int | None, reason: str | None
) -> Customer:
    """Never a hard delete: the customer stays readable. Records customer.closed."""
    with db.write() as s:
        c = _locked_active(s, customer_id, expected_version)
        c.status, c.closed_at, c.updated_at = "closed", utcnow(), utcnow()
        c.version += 1
        record_event(
            s,
            outbox,
            type="customer.closed",
            subject_id=str(c.id),
            data={"customer_no": c.customer_no, "reason": reason},
        )
        s.commit()
        return c


def _locked_active(s: Session, customer_id: uuid.UUID, expected_version: int | None) -> Customer:
    c = s.get(Customer, customer_id, with_for_update=True)
    if c is None:
        raise customer_not_found(customer_id)
    check_version(c.version, expected_version)
    if c.status == "closed":
        raise Conflict("A closed customer cannot be changed", code="customer_closed")
    return c


def search_customers(
    db: Database, *, filters: CustomerFilter, privacy: Privacy, limit: int, cursor: str | None
) -> tuple[list[Customer], str | None]:
    """Ordered by customer_no. ID number and phone match through their keyed hashes only."""
    after = decode_cursor(cursor)
    stmt = select(_CUSTOMER_COLUMNS).order_by(Customer.customer_no).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(Customer.customer_no > after[0])
    for field in ("customer_no", "branch_code", "type", "region_type", "status"):
        if (value := getattr(filters, field)) is not None:
            stmt = stmt.where(getattr(Customer, field) == value)
    if filters.name_prefix:
        escaped = filters.name_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(col(Customer.name).like(escaped + "%", escape="\\"))
    if filters.id_number:
        stmt = stmt.where(
            Customer.id_number_hash == privacy.vault.lookup_hash(_normalise_id_query(filters.id_number), ID_FIELD)
        )
    if filters.phone:
        stmt = stmt.where(
            Customer.phone_hash
            == privacy.vault.lookup_hash(_query_value("phone", normalise_phone, filters.phone), PHONE_FIELD)
        )
    with db.read() as s:
        rows = list(s.execute(stmt))
    return page_of(rows, limit, key=lambda c: [c.customer_no])


def _query_value(name: str, normalise, value: str) -> str:
    try:
        return normalise(value)
    except ValueError as err:
        raise InvalidInput([{"loc": ["query", name], "msg": str(err), "type": "value_error"}]) from None


def _normalise_id_query(value: str) -> str:
    try:
        return validate_resident_id(value)
    except ValueError:
        return _query_value("id_number", normalise_credit_code, value)


def reveal_personal_data(
    db: Database, *, customer_id: uuid.UUID, actor: Principal, reason: str, privacy: Privacy
) -> PersonalDataRead:
    """Full identity number, phone and email for a permitted role; the read is audited in the same
    transaction, so no value leaves without its record."""
    if actor.role not in privacy.reveal_roles:
        raise Forbidden("This role may not read full personal data", code="reveal_forbidden")
    with db.write() as s:
        c = s.get(Customer, customer_id)
        if c is None:
            raise customer_not_found(customer_id)
        v = privacy.vault
        result = PersonalDataRead(
            customer_id=c.id,
            id_type=c.id_type,
            id_number=v.decrypt(c.id_number_enc, ID_FIELD),
            phone=v.decrypt(c.phone_enc, PHONE_FIELD),
            email=v.decrypt(c.email_enc, EMAIL_FIELD) if c.email_enc else None,
        )
        audit_change(s, c.id, actor, action="personal_data.read", reason=reason, fields="id_number,phone,email")
        s.commit()
        return result


def list_audit_entries(
    db: Database, *, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[AuditEntry], str | None]:
    """Newest first."""
    stmt = newest_id_first(
        select(AuditEntry).where(AuditEntry.customer_id == customer_id), AuditEntry.id, cursor, limit
    )
    with db.read() as s:
        if s.get(Customer, customer_id) is None:
            raise customer_not_found(customer_id)
        rows = list(s.execute(stmt).scalars())
    return page_of(rows, limit, key=id_key)
