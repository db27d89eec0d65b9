"""Customer registry: register, read, search, update, close, and audited reads of personal data.
Each write is one transaction that also records its outbox event."""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, exc, select, text
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.auth import Principal
from services.common.context import current_request_id
from services.common.db import Database, PreparedRow, is_unique_violation, table_of, utcnow
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.common.etag import check_version
from services.common.idempotency import IdempotencyRequest, StoredResponse, find_stored, store_response
from services.common.outbox import record_event
from services.common.pagination import decode_cursor, page_of
from services.common.pii import Mask, PersonalDataVault, mask_email
from services.profile.models import AuditEntry, Customer, idempotency, outbox
from services.profile.schemas.customers import CustomerCreate, CustomerRead, CustomerUpdate, PersonalDataRead
from services.profile.service.identity import (
    credit_code_check_passes,
    normalise_credit_code,
    normalise_phone,
    validate_resident_id,
)

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


def _luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def next_customer_no(session: Session) -> str:
    """'1' + ten-digit sequence + Luhn check digit, from a counter row (locked until commit)."""
    n = session.execute(text("UPDATE counter SET value = value + 1 WHERE name = 'customer_no' RETURNING value"))
    body = f"1{n.scalar_one():010d}"
    return body + _luhn_digit(body)


def _identity_of(customer_in: CustomerCreate, actor: Principal) -> tuple[str, str | None, str | None]:
    """(id_type, id_number, override reason), after the rules that depend on the customer type."""
    errors: list[dict[str, Any]] = []

    def need(field: str, present: bool, msg: str) -> None:
        if not present:
            errors.append({"loc": ["body", field], "msg": msg, "type": "missing_for_type"})

    individual = customer_in.type == "individual"
    need("resident_id", not individual or customer_in.resident_id is not None, "required for an individual")
    need("credit_code", individual or customer_in.credit_code is not None, f"required for {customer_in.type}")
    need("contact_name", individual or customer_in.contact_name is not None, f"required for {customer_in.type}")
    for field in ("credit_code", "contact_name", "id_check_override_reason") if individual else ("resident_id",):
        if getattr(customer_in, field) is not None:
            errors.append({"loc": ["body", field], "msg": f"not used for {customer_in.type}", "type": "not_for_type"})
    if errors:
        raise InvalidInput(errors)
    if individual:
        return "resident_id", customer_in.resident_id, None
    code, reason = customer_in.credit_code, customer_in.id_check_override_reason
    if credit_code_check_passes(code):
        return "credit_code", code, None
    if reason is None:
        raise InvalidInput(
            [
                {
                    "loc": ["body", "credit_code"],
                    "msg": "the credit code's check character is wrong",
                    "type": "check_character",
                }
            ]
        )
    if actor.role not in OVERRIDE_ROLES:
        raise Forbidden("Only a supervisor may register a credit code that fails its check", code="override_forbidden")
    return "credit_code", code, reason


def register_customer(
    db: Database, *, customer_in: CustomerCreate, actor: Principal, privacy: Privacy, idem: IdempotencyRequest | None
) -> CustomerRead | StoredResponse:
    """Records customer.registered; a known identity number is 409 customer_duplicate naming the
    existing customer; a replayed Idempotency-Key returns the first response (StoredResponse)."""
    id_type, id_number, override = _identity_of(customer_in, actor)
    v = privacy.vault
    id_hash = v.lookup_hash(id_number, ID_FIELD)
    with db.write() as s:
        if stored := _replay_or_refuse(s, idem, id_hash):
            return stored
        now = utcnow()
        c = Customer(
            customer_no=next_customer_no(s),
            type=customer_in.type,
            name=customer_in.name,
            id_type=id_type,
            id_number_enc=v.encrypt(id_number, ID_FIELD),
            id_number_hash=id_hash,
            id_check_override_reason=override,
            phone_enc=v.encrypt(customer_in.phone, PHONE_FIELD),
            phone_hash=v.lookup_hash(customer_in.phone, PHONE_FIELD),
            email_enc=v.encrypt(customer_in.email, EMAIL_FIELD) if customer_in.email else None,
            contact_name=customer_in.contact_name,
            region_type=customer_in.region_type,
            province=customer_in.province,
            city=customer_in.city,
            branch_code=customer_in.branch_code,
            created_at=now,
            updated_at=now,
        )
        # The INSERT (at flush) or the commit meets a concurrent request with the same identity or
        # key: on PostgreSQL the unique index makes the second writer wait, then fail.
        try:
            s.add(c)
            s.flush()
            if override:
                _audit(s, c.id, actor, action="identity_check.overridden", reason=override, fields="credit_code")
            view = present_customer(c, privacy)
            if idem:
                store_response(s, idempotency, idem, 201, view.model_dump(mode="json"))
            record_event(
                s,
                outbox,
                type="customer.registered",
                subject_id=str(c.id),
                data={
                    "customer_no": c.customer_no,
                    "type": c.type,
                    "region_type": c.region_type,
                    "province": c.province,
                    "city": c.city,
                    "branch_code": c.branch_code,
                    "status": c.status,
                },
            )
            s.commit()
        except exc.IntegrityError as err:
            s.rollback()
            if not is_unique_violation(err):
                raise
            if stored := _replay_or_refuse(s, idem, id_hash):
                return stored
            raise
        return view


def _replay_or_refuse(s: Session, idem: IdempotencyRequest | None, id_hash: str) -> StoredResponse | None:
    """The stored answer to this Idempotency-Key if there is one; else 409 when the identity is taken.
    The key is looked at again after a duplicate is seen: a concurrent first attempt with the same key
    may have committed between the two reads."""
    if idem and (stored := find_stored(s, idempotency, idem)):
        return stored
    existing = s.execute(select(Customer.id).where(Customer.id_number_hash == id_hash)).scalar()
    if existing is not None:
        if idem and (stored := find_stored(s, idempotency, idem)):
            return stored
        raise Conflict(
            "A customer with this identity number is already registered",
            code="customer_duplicate",
            existing_customer_id=str(existing),
        )
    return None


def _audit(s: Session, customer_id: uuid.UUID, actor: Principal, *, action: str, reason: str, fields: str) -> None:
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
        _audit(s, c.id, actor, action="personal_data.read", reason=reason, fields="id_number,phone,email")
        s.commit()
        return result


def list_audit_entries(
    db: Database, *, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[AuditEntry], str | None]:
    """Newest first."""
    before = decode_cursor(cursor, (int,))
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.customer_id == customer_id)
        .order_by(col(AuditEntry.id).desc())
        .limit(limit + 1)
    )
    if before is not None:
        stmt = stmt.where(AuditEntry.id < before[0])
    with db.read() as s:
        if s.get(Customer, customer_id) is None:
            raise customer_not_found(customer_id)
        rows = list(s.execute(stmt).scalars())
    return page_of(rows, limit, key=lambda e: [e.id])
