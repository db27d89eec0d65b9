"""The customer registry: the personal-data settings, presenting a customer (masked), updates,
closing, search by exact identity or phone (keyed hash), reveals and the audit log."""

import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.audit_chain import append as append_audit
from services.common.auth import Principal
from services.common.branches import check_in_reach
from services.common.context import current_request_id
from services.common.db import Database, PreparedRow, table_of, utcnow
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.common.etag import check_version
from services.common.outbox import record_event
from services.common.pagination import decode_cursor, id_key, newest_id_first, page_of
from services.common.pii import Mask, PersonalDataVault, mask_email
from services.profile.models import ACCESS_LOG, AuditEntry, Customer, audit_chain, outbox
from services.profile.schemas.customers import CustomerRead, CustomerUpdate, PersonalDataRead
from services.profile.service.branches import check_customer_branch
from services.profile.service.documents import DOCUMENT_TYPES, identity_key, normalise_country, validate_document_number
from services.profile.service.identity import normalise_credit_code
from services.profile.service.phones import normalise_phone
from services.profile.service.reasons import ACCESS_REASON

ID_FIELD, PHONE_FIELD, EMAIL_FIELD = "customer.id_number", "customer.phone", "customer.email"
# Types whose keyed hash is of the number alone, as it was before other documents existed.
_NUMBER_ONLY_HASH = frozenset({"resident_id", "credit_code"})
# Masked like a resident ID (6,4 by default): the 18-character numbers built the same way.
_RESIDENT_ID_SHAPED = frozenset({"resident_id", "residence_permit"})
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
    document_mask: Mask  # passports, travel permits, permanent residence cards


def id_lookup_hash(vault: PersonalDataVault, id_type: str, key: str) -> str:
    """The keyed hash that finds duplicates and answers search: of the type and the number's identity
    part (documents.identity_key). Resident IDs and credit codes hash the number alone, as they
    always have, so stored rows keep matching; every other type hashes with its type, so equal
    strings on different documents are different people."""
    if id_type in _NUMBER_ONLY_HASH:
        return vault.lookup_hash(key, ID_FIELD)
    return vault.lookup_hash(f"{id_type}\x00{key}", ID_FIELD)


def _id_mask(privacy: Privacy, id_type: str) -> Mask:
    if id_type == "credit_code":
        return privacy.credit_code_mask
    return privacy.resident_id_mask if id_type in _RESIDENT_ID_SHAPED else privacy.document_mask


@dataclass(frozen=True)
class CustomerFilter:
    customer_no: str | None = None
    name_prefix: str | None = None
    branch_code: str | None = None
    type: str | None = None
    region_type: str | None = None
    status: str | None = None
    id_number: str | None = None
    id_type: str | None = None
    id_country: str | None = None
    phone: str | None = None
    branches: frozenset[str] | None = None  # the caller's reach: only customers of these branches


def customer_reader(db: Database) -> PreparedRow:
    """The hottest read there is, one customer by id, compiled once: the route and the fast path in
    front of FastAPI both answer through it (app.state.customer_by_id)."""
    return db.prepared_row(table_of(Customer), "id")


def customer_branch(s: Session, customer_id: uuid.UUID) -> str | None:
    """The customer's branch code (None for no such customer): what branch scope is checked against."""
    return s.execute(select(Customer.branch_code).where(Customer.id == customer_id)).scalar()


def customer_not_found(customer_id: Any) -> NotFound:
    return NotFound(f"No customer {customer_id}", code="customer_not_found")


def present_customer(c: Customer | Row, privacy: Privacy) -> CustomerRead:
    """The customer as every response shows it: identity number, phone and email masked. Built
    without validation (model_construct): every value comes from a stored, already-validated row."""
    v = privacy.vault
    return CustomerRead.model_construct(
        id=c.id,
        customer_no=c.customer_no,
        type=c.type,
        name=c.name,
        id_type=c.id_type,
        id_number=_id_mask(privacy, c.id_type).apply(v.decrypt(c.id_number_enc, ID_FIELD)),
        id_country=c.id_country,
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
    s: Session,
    customer_id: uuid.UUID,
    actor: Principal,
    *,
    action: str,
    reason: str,
    fields: str,
    vault: PersonalDataVault,
    at: datetime | None = None,
) -> None:
    """One access-log row (its reason sealed) and its record in the audit chain, in the caller's
    transaction."""
    entry = AuditEntry(
        customer_id=customer_id,
        action=action,
        actor_sub=actor.sub,
        actor_role=actor.role,
        reason=vault.seal(reason, ACCESS_REASON) or "",
        fields=fields,
        request_id=current_request_id(),
        at=at or utcnow(),
    )
    s.add(entry)
    s.flush()
    append_audit(
        s,
        audit_chain,
        action=action,
        actor_sub=actor.sub,
        actor_role=actor.role,
        subject=str(customer_id),
        at=entry.at,
        detail=ACCESS_LOG.detail(entry),
    )


_CUSTOMER_COLUMNS = table_of(Customer)


def update_customer(
    db: Database,
    *,
    customer_id: uuid.UUID,
    changes: CustomerUpdate,
    expected_version: int | None,
    privacy: Privacy,
    on_change: Callable[[Session, Customer, list[str]], None] | None = None,
    reach: set[str] | None = None,
) -> Customer:
    """Records customer.updated naming the changed fields, and calls `on_change` in the same
    transaction (the access log of a rectification); 409 customer_closed, 412 when stale, 422 for a
    branch_code that is not an open branch or is outside `reach` (the caller's subtree)."""
    sent = changes.model_fields_set
    nulls = [f for f in sent if getattr(changes, f) is None and f != "email"]
    if nulls:
        raise InvalidInput([{"loc": ["body", f], "msg": "may not be null", "type": "null_not_allowed"} for f in nulls])
    with db.write() as s:
        c = locked_active(s, customer_id, expected_version)
        if "branch_code" in sent and changes.branch_code != c.branch_code:
            check_customer_branch(s, changes.branch_code)
            check_in_reach(changes.branch_code, reach)
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
        if on_change is not None:
            on_change(s, c, changed)
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
        c = locked_active(s, customer_id, expected_version)
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


def locked_active(s: Session, customer_id: uuid.UUID, expected_version: int | None) -> Customer:
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
    if filters.branches is not None:
        stmt = stmt.where(col(Customer.branch_code).in_(filters.branches))
    if filters.name_prefix:
        prefix = unicodedata.normalize("NFKC", filters.name_prefix)  # names are stored NFKC
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(col(Customer.name).like(escaped + "%", escape="\\"))
    if filters.id_number:
        stmt = stmt.where(col(Customer.id_number_hash).in_(_id_query_hashes(filters, privacy.vault)))
    elif filters.id_type or filters.id_country:
        name = "id_type" if filters.id_type else "id_country"
        raise InvalidInput([{"loc": ["query", name], "msg": "only with id_number", "type": "needs_id_number"}])
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


def _id_query_hashes(filters: CustomerFilter, vault: PersonalDataVault) -> list[str]:
    """The keyed hashes an exact identity search matches: of the one type asked for, or of every
    type the number is valid as (a passport only with id_type=passport and its id_country)."""
    number, id_type, country = filters.id_number, filters.id_type, filters.id_country
    if (id_type == "passport") != (country is not None):
        msg = "required with id_type=passport" if country is None else "only with id_type=passport"
        raise InvalidInput([{"loc": ["query", "id_country"], "msg": msg, "type": "passport_country"}])
    if id_type == "passport":
        country = _query_value("id_country", normalise_country, country)
    candidates = [id_type] if id_type else [t for t in ("credit_code", *DOCUMENT_TYPES) if t != "passport"]
    hashes = []
    for t in candidates:
        try:
            valid = normalise_credit_code(number) if t == "credit_code" else validate_document_number(t, number)
        except ValueError as err:
            if id_type:
                raise InvalidInput([{"loc": ["query", "id_number"], "msg": str(err), "type": "value_error"}]) from None
            continue
        hashes.append(id_lookup_hash(vault, t, identity_key(t, valid, country)))
    if not hashes:
        msg = "not a valid number of any identity document; name its id_type to learn why"
        raise InvalidInput([{"loc": ["query", "id_number"], "msg": msg, "type": "value_error"}])
    return hashes


def reveal_personal_data(
    db: Database,
    *,
    customer_id: uuid.UUID,
    actor: Principal,
    reason: str,
    privacy: Privacy,
    gate: Callable[[Session, uuid.UUID, Principal, str], Any] | None = None,
) -> Any:
    """Full identity number, phone and email for a permitted role; the read is audited in the same
    transaction, so no value leaves without its record. `gate` (dual control beyond a daily count) may
    answer instead with a pending approval request, stored in this transaction."""
    if actor.role not in privacy.reveal_roles:
        raise Forbidden("This role may not read full personal data", code="reveal_forbidden")
    with db.write() as s:
        c = s.get(Customer, customer_id)
        if c is None:
            raise customer_not_found(customer_id)
        if gate is not None and (pending := gate(s, c.id, actor, reason)) is not None:
            s.commit()
            return pending
        v = privacy.vault
        result = PersonalDataRead(
            customer_id=c.id,
            id_type=c.id_type,
            id_number=v.decrypt(c.id_number_enc, ID_FIELD),
            id_country=c.id_country,
            phone=v.decrypt(c.phone_enc, PHONE_FIELD),
            email=v.decrypt(c.email_enc, EMAIL_FIELD) if c.email_enc else None,
        )
        audit_change(
            s,
            c.id,
            actor,
            action="personal_data.read",
            reason=reason,
            fields="id_number,phone,email",
            vault=privacy.vault,
        )
        s.commit()
        return result


VIEWED = "personal_data.viewed"


def record_view(
    db: Database, *, customer_id: uuid.UUID, actor: Principal, purpose: str, vault: PersonalDataVault
) -> None:
    """One access-log row for a staff read of the customer's (masked) record that states its purpose:
    the gateway's overview, one row per overview."""
    with db.write() as s:
        audit_change(
            s, customer_id, actor, action=VIEWED, reason=f"purpose: {purpose}", fields="customer (masked)", vault=vault
        )
        s.commit()


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
