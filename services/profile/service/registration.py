"""Registering a customer: the identity by type (an individual's resident ID or other document, an
organisation's credit code, with the supervisor's override for one that fails its check), the
customer number, duplicates across document types and Idempotency-Key, customer.registered."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc, select, text
from sqlalchemy.orm import Session

from services.common.auth import Principal
from services.common.branches import check_in_reach
from services.common.db import Database, is_unique_violation, utcnow
from services.common.errors import Conflict, Forbidden, InvalidInput
from services.common.idempotency import IdempotencyRequest, StoredResponse, find_stored, store_response
from services.common.outbox import record_event
from services.common.pii import PersonalDataVault
from services.profile.models import Customer, idempotency, outbox
from services.profile.schemas.customers import CustomerCreate, CustomerRead
from services.profile.service.branches import check_customer_branch
from services.profile.service.customers import (
    EMAIL_FIELD,
    ID_FIELD,
    OVERRIDE_ROLES,
    PHONE_FIELD,
    Privacy,
    audit_change,
    id_lookup_hash,
    present_customer,
)
from services.profile.service.documents import identity_key
from services.profile.service.identity import credit_code_check_passes
from services.profile.service.reasons import OVERRIDE_REASON


def _luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def next_customer_no(session: Session) -> str:
    """'1' + ten-digit sequence + Luhn check digit, from a counter row (locked until commit)."""
    return next_customer_nos(session, 1)[0]


def next_customer_nos(session: Session, count: int) -> list[str]:
    """The next `count` customer numbers in order, taken from the counter in one statement."""
    last = session.execute(
        text("UPDATE counter SET value = value + :n WHERE name = 'customer_no' RETURNING value"), {"n": count}
    ).scalar_one()
    bodies = (f"1{n:010d}" for n in range(last - count + 1, last + 1))
    return [body + _luhn_digit(body) for body in bodies]


@dataclass(frozen=True)
class Identity:
    type: str
    number: str
    country: str | None  # a passport's issuing state
    key: str  # what the keyed hash is of (documents.identity_key)
    override: str | None  # the supervisor's reason for a credit code that fails its check


def identity_of(customer_in: CustomerCreate, actor: Principal) -> Identity:
    """The identity after the rules that depend on the customer type: an individual's resident_id or
    id_document (one of them), an organisation's credit code."""
    errors: list[dict[str, Any]] = []

    def error(loc: list[str], msg: str, kind: str) -> None:
        errors.append({"loc": ["body", *loc], "msg": msg, "type": kind})

    individual = customer_in.type == "individual"
    doc = customer_in.id_document
    if individual and customer_in.resident_id is None and doc is None:
        error(["resident_id"], "an individual needs resident_id or id_document", "missing_for_type")
    if individual and customer_in.resident_id is not None and doc is not None:
        error(["id_document"], "give resident_id or id_document, not both", "one_of")
    if not individual and customer_in.credit_code is None:
        error(["credit_code"], f"required for {customer_in.type}", "missing_for_type")
    if not individual and customer_in.contact_name is None:
        error(["contact_name"], f"required for {customer_in.type}", "missing_for_type")
    organisation_only = ("credit_code", "contact_name", "id_check_override_reason")
    for field in organisation_only if individual else ("resident_id", "id_document"):
        if getattr(customer_in, field) is not None:
            error([field], f"not used for {customer_in.type}", "not_for_type")
    if doc is not None and (doc.type == "passport") != (doc.country is not None):
        msg = "required for a passport: its issuing state" if doc.country is None else "only for a passport"
        error(["id_document", "country"], msg, "missing_for_type" if doc.country is None else "not_for_type")
    if errors:
        raise InvalidInput(errors)
    if individual:
        doc_type, number = ("resident_id", customer_in.resident_id) if doc is None else (doc.type, doc.number)
        country = None if doc is None else doc.country
        return Identity(doc_type, number, country, identity_key(doc_type, number, country), None)
    code, reason = customer_in.credit_code, customer_in.id_check_override_reason
    if credit_code_check_passes(code):
        return Identity("credit_code", code, None, code, None)
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
    return Identity("credit_code", code, None, code, reason)


def register_customer(
    db: Database,
    *,
    customer_in: CustomerCreate,
    actor: Principal,
    privacy: Privacy,
    idem: IdempotencyRequest | None,
    reach: set[str] | None = None,
) -> CustomerRead | StoredResponse:
    """Records customer.registered; a branch_code that is not an open branch, or is outside `reach`
    (the caller's subtree), is 422 naming it; a known identity (the same type and number) is 409
    customer_duplicate naming the existing customer; a replayed Idempotency-Key returns the first
    response (StoredResponse)."""
    identity = identity_of(customer_in, actor)
    v = privacy.vault
    id_hash = id_lookup_hash(v, identity.type, identity.key)
    with db.write() as s:
        if stored := _replay_or_refuse(s, idem, id_hash):
            return stored
        check_customer_branch(s, customer_in.branch_code)
        check_in_reach(customer_in.branch_code, reach)
        c = new_customer(next_customer_no(s), customer_in, identity, id_hash, v)
        # The INSERT (at flush) or the commit meets a concurrent request with the same identity or
        # key: on PostgreSQL the unique index makes the second writer wait, then fail.
        try:
            s.add(c)
            s.flush()
            if identity.override:
                audit_change(
                    s,
                    c.id,
                    actor,
                    action="identity_check.overridden",
                    reason=identity.override,
                    fields="credit_code",
                    vault=v,
                )
            view = present_customer(c, privacy)
            if idem:
                store_response(s, idempotency, idem, 201, view.model_dump(mode="json"))
            record_event(s, outbox, type="customer.registered", subject_id=str(c.id), data=registered_event_data(c))
            s.commit()
        except exc.IntegrityError as err:
            s.rollback()
            if not is_unique_violation(err):
                raise
            if stored := _replay_or_refuse(s, idem, id_hash):
                return stored
            raise
        return view


def registered_event_data(c: Customer) -> dict[str, Any]:
    """customer.registered's data: no personal data travels in events."""
    return {
        "customer_no": c.customer_no,
        "type": c.type,
        "region_type": c.region_type,
        "province": c.province,
        "city": c.city,
        "branch_code": c.branch_code,
        "status": c.status,
    }


def new_customer(
    customer_no: str, customer_in: CustomerCreate, identity: Identity, id_hash: str, vault: PersonalDataVault
) -> Customer:
    """The customer row; identity, phone and email encrypted, with keyed hashes for exact lookup."""
    now = utcnow()
    return Customer(
        customer_no=customer_no,
        type=customer_in.type,
        name=customer_in.name,
        id_type=identity.type,
        id_number_enc=vault.encrypt(identity.number, ID_FIELD),
        id_number_hash=id_hash,
        id_country=identity.country,
        id_check_override_reason=vault.seal(identity.override, OVERRIDE_REASON),
        phone_enc=vault.encrypt(customer_in.phone, PHONE_FIELD),
        phone_hash=vault.lookup_hash(customer_in.phone, PHONE_FIELD),
        email_enc=vault.encrypt(customer_in.email, EMAIL_FIELD) if customer_in.email else None,
        contact_name=customer_in.contact_name,
        region_type=customer_in.region_type,
        province=customer_in.province,
        city=customer_in.city,
        branch_code=customer_in.branch_code,
        birth_md=birth_month_day(identity),
        created_at=now,
        updated_at=now,
    )


def birth_month_day(identity: Identity) -> int | None:
    """MMDD of a resident ID's birth date (positions 11-14, checked when the number was validated)."""
    if identity.type != "resident_id" or len(identity.number) != 18:
        return None
    return int(identity.number[10:14])


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
