"""Personal-data rights (PIPL): a customer's data as one document, and erasure by pseudonymisation
that keeps the records the bank must retain under the customer's id. Records customer.erased."""

import hashlib
import os
import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.approvals import redact as redact_approvals
from services.common.auth import Principal
from services.common.db import Database
from services.common.errors import Conflict, Forbidden
from services.common.pii import ERASED, PersonalDataVault
from services.profile.models import (
    Agreement,
    AssetSnapshot,
    AuditEntry,
    CareReminder,
    ConsentRecord,
    ContactPoint,
    Customer,
    CustomerImport,
    CustomerNeeds,
    DoNotContactRecord,
    ErasureRequest,
    Holding,
    Interaction,
    RelationshipManager,
    RiskAssessment,
    TransactionRecord,
    approval,
    idempotency,
    outbox,
)
from services.profile.schemas.consent import ConsentRecordRead
from services.profile.schemas.customers import AuditEntryRead
from services.profile.schemas.managers import ManagerRead
from services.profile.schemas.needs import HoldingRead, NeedsRead
from services.profile.schemas.rights import (
    CustomerExport,
    ErasureRequestRead,
    ExportedCareReminder,
    ExportedContact,
    ExportedCustomer,
    ExportedDoNotContact,
    ExportedImport,
)
from services.profile.service.agreements import present_agreement
from services.profile.service.consent import CONTACT_FIELD
from services.profile.service.customers import (
    EMAIL_FIELD,
    ID_FIELD,
    PHONE_FIELD,
    Privacy,
    audit_change,
    customer_not_found,
)
from services.profile.service.events import record_events
from services.profile.service.interactions import present_interaction
from services.profile.service.reasons import ACCESS_REASON, DO_NOT_CONTACT_REASON, ERASURE_REASON, with_reason
from services.profile.service.risk import present_assessment
from services.profile.service.transactions import present_snapshot, present_transaction

EXPORT_ROLES = frozenset({"customer", "supervisor", "admin"})
ERASED_FIELDS = [
    "customer.name",
    "customer.id_number",
    "customer.id_country",
    "customer.phone",
    "customer.email",
    "customer.contact_name",
    "customer.id_check_override_reason",
    "customer.birth_md (month and day of birth, for birthday reminders)",
    "contact_point (all)",
    "interaction.topic",
    "interaction.summary",
    "customer_needs (deleted)",
    "holding (deleted: core banking keeps the contracts)",
    "relationship_manager (deleted: the customer is closed)",
    "care_reminder (deleted: a birthday's date is personal)",
    "idempotency_record (stored answers about the customer)",
    "outbox_event.data (names in customer.updated)",
    "customer_import.fingerprint (a keyed hash of the migrated item)",
]
# Kept under the pseudonymous customer id, restricted to storage, until the duty ends.
RETAINED = [
    {"records": "transaction_record, asset_snapshot", "legal_reason": "anti-money-laundering record retention"},
    {"records": "agreement", "legal_reason": "contract evidence for the agreed services"},
    {"records": "risk_assessment", "legal_reason": "investor suitability records for sold products"},
    {"records": "consent_record, do_not_contact_record", "legal_reason": "proof of marketing consent"},
    {"records": "audit_entry", "legal_reason": "record of access to personal data"},
    {"records": "customer_import (external_id)", "legal_reason": "the customer's origin in a migrated system"},
]


def export_customer(
    db: Database, *, customer_id: uuid.UUID, actor: Principal, privacy: Privacy, now: datetime
) -> CustomerExport:
    """Full personal values: a customer's own copy, or a supervisor's answer to the customer's
    request. The export is written to the access log in the same transaction."""
    if actor.role not in EXPORT_ROLES:
        raise Forbidden("Only the customer or a supervisor may export personal data", code="export_forbidden")
    with db.write() as s:
        c = s.get(Customer, customer_id)
        if c is None:
            raise customer_not_found(customer_id)
        audit_change(
            s,
            customer_id,
            actor,
            action="personal_data.exported",
            reason="data copy requested",
            fields="all",
            at=now,
            vault=privacy.vault,
        )
        s.flush()
        doc = _document(s, c, privacy, now)
        s.commit()
        return doc


def _by_customer(s: Session, model, customer_id: uuid.UUID, *order):
    return list(s.execute(select(model).where(model.customer_id == customer_id).order_by(*order)).scalars())


def _document(s: Session, c: Customer, privacy: Privacy, now: datetime) -> CustomerExport:
    v, cid = privacy.vault, c.id
    assessments = _by_customer(
        s, RiskAssessment, cid, col(RiskAssessment.assessed_at).desc(), col(RiskAssessment.id).desc()
    )
    newest = assessments[0].id if assessments else None
    return CustomerExport(
        exported_at=now,
        customer=ExportedCustomer(
            **{k: getattr(c, k) for k in ExportedCustomer.model_fields if k not in ("id_number", "phone", "email")},
            id_number=v.decrypt(c.id_number_enc, ID_FIELD),
            phone=v.decrypt(c.phone_enc, PHONE_FIELD),
            email=v.decrypt(c.email_enc, EMAIL_FIELD) if c.email_enc else None,
        ),
        contacts=[
            ExportedContact(
                id=p.id,
                kind=p.kind,
                value=v.decrypt(p.value_enc, CONTACT_FIELD),
                is_preferred=p.is_preferred,
                created_at=p.created_at,
            )
            for p in _by_customer(s, ContactPoint, cid, ContactPoint.created_at)
        ],
        consents=[ConsentRecordRead.model_validate(r) for r in _by_customer(s, ConsentRecord, cid, ConsentRecord.id)],
        do_not_contact=[
            with_reason(ExportedDoNotContact.model_validate(r), v, DO_NOT_CONTACT_REASON, full=True)
            for r in _by_customer(s, DoNotContactRecord, cid, DoNotContactRecord.id)
        ],
        risk_assessments=[
            present_assessment(a, "expired" if a.expires_at <= now else "current" if a.id == newest else "superseded")
            for a in assessments
        ],
        agreements=[
            present_agreement(a, now, v, full=True) for a in _by_customer(s, Agreement, cid, Agreement.signed_at)
        ],
        interactions=[
            present_interaction(i, v, full=True) for i in _by_customer(s, Interaction, cid, Interaction.occurred_at)
        ],
        transactions=[
            present_transaction(t)
            for t in _by_customer(s, TransactionRecord, cid, TransactionRecord.occurred_at, TransactionRecord.id)
        ],
        asset_snapshots=[present_snapshot(a) for a in _by_customer(s, AssetSnapshot, cid, AssetSnapshot.as_of_date)],
        needs=NeedsRead.model_validate(n) if (n := s.get(CustomerNeeds, cid)) else None,
        holdings=[HoldingRead.model_validate(h) for h in _by_customer(s, Holding, cid, Holding.opened_on)],
        relationship_manager=ManagerRead.model_validate(m) if (m := s.get(RelationshipManager, cid)) else None,
        care_reminders=[
            ExportedCareReminder.model_validate(r)
            for r in _by_customer(s, CareReminder, cid, CareReminder.due_on, CareReminder.occasion_key)
        ],
        migration_imports=[
            ExportedImport.model_validate(i) for i in _by_customer(s, CustomerImport, cid, CustomerImport.imported_at)
        ],
        access_log=[
            with_reason(AuditEntryRead.model_validate(e), v, ACCESS_REASON, full=True)
            for e in _by_customer(s, AuditEntry, cid, AuditEntry.id)
        ],
        erasure_requests=[
            with_reason(ErasureRequestRead.model_validate(e), v, ERASURE_REASON, full=True)
            for e in _by_customer(s, ErasureRequest, cid, ErasureRequest.requested_at)
        ],
    )


def _unguessable() -> str:
    """Replaces a lookup hash: 64 hex characters no value hashes to."""
    return hashlib.sha256(os.urandom(32)).hexdigest()


def erase_customer(
    db: Database,
    *,
    customer_id: uuid.UUID,
    reason: str,
    requested_via: str,
    actor: Principal,
    privacy: Privacy,
    now: datetime,
) -> ErasureRequestRead:
    """Pseudonymises the customer in one transaction (`erase_in`), then scrubs the database files."""
    with db.write() as s:
        req = erase_in(
            s,
            customer_id=customer_id,
            reason=reason,
            requested_via=requested_via,
            actor=actor,
            privacy=privacy,
            now=now,
        )
        s.commit()
    db.scrub_files()  # the old values leave the database files as well as the tables
    return with_reason(ErasureRequestRead.model_validate(req), privacy.vault, ERASURE_REASON)


def erasable(s: Session, customer_id: uuid.UUID, lock: bool = False) -> Customer:
    """404 customer_not_found, 409 customer_erased when done before."""
    c = s.get(Customer, customer_id, with_for_update=lock)
    if c is None:
        raise customer_not_found(customer_id)
    if c.erased_at is not None:
        raise Conflict("The customer's personal data was already erased", code="customer_erased")
    return c


def erase_in(
    s: Session,
    *,
    customer_id: uuid.UUID,
    reason: str,
    requested_via: str,
    actor: Principal,
    privacy: Privacy,
    now: datetime,
) -> ErasureRequest:
    """Pseudonymises the customer in the caller's transaction: personal values replaced, contact points
    deleted, free text in the interaction log blanked, stored responses and event payloads that
    held names scrubbed; retained records stay under the customer id. The customer ends closed.
    409 customer_erased when done before. Records customer.erased."""
    c = erasable(s, customer_id, lock=True)
    v = privacy.vault
    c.name = f"ERASED-{c.customer_no}"
    c.id_number_enc, c.id_number_hash = v.encrypt("", ID_FIELD), _unguessable()
    c.phone_enc, c.phone_hash = v.encrypt("", PHONE_FIELD), _unguessable()
    c.email_enc = c.contact_name = c.id_check_override_reason = c.id_country = c.birth_md = None
    c.status, c.closed_at = "closed", c.closed_at or now
    c.erased_at = c.updated_at = now
    c.version += 1
    s.execute(delete(ContactPoint).where(ContactPoint.customer_id == customer_id))
    s.execute(delete(CustomerNeeds).where(CustomerNeeds.customer_id == customer_id))  # type: ignore[arg-type]
    s.execute(delete(Holding).where(Holding.customer_id == customer_id))  # type: ignore[arg-type]
    s.execute(delete(RelationshipManager).where(col(RelationshipManager.customer_id) == customer_id))
    s.execute(delete(CareReminder).where(col(CareReminder.customer_id) == customer_id))
    # A replay of the migrated item must not match (nor register the person again): external_id_conflict.
    s.execute(
        update(CustomerImport).where(col(CustomerImport.customer_id) == customer_id).values(fingerprint=_unguessable())
    )
    s.execute(update(Interaction).where(Interaction.customer_id == customer_id).values(topic=ERASED, summary=ERASED))
    response = idempotency.c.response
    s.execute(
        delete(idempotency).where(
            (response["id"].as_string() == str(customer_id)) | (response["customer_id"].as_string() == str(customer_id))
        )
    )
    _scrub_events(s, str(customer_id))
    redact_approvals(s, approval, [str(customer_id)])  # reasons typed in reveal and erasure requests
    req = ErasureRequest(
        customer_id=customer_id,
        requested_by_sub=actor.sub,
        requested_by_role=actor.role,
        requested_via=requested_via,
        reason=v.seal(reason, ERASURE_REASON) or "",
        erased_fields=ERASED_FIELDS,
        retained=RETAINED,
        requested_at=now,
        completed_at=now,
    )
    s.add(req)
    audit_change(
        s,
        customer_id,
        actor,
        action="personal_data.erased",
        reason=reason,
        fields="see erasure request",
        at=now,
        vault=v,
    )
    s.flush()
    data = {"customer_no": c.customer_no, "erased_at": now.isoformat().replace("+00:00", "Z")}
    record_events(s, [("customer.erased", str(customer_id), data)], now)
    return req


def _scrub_events(s: Session, subject_id: str) -> None:
    """customer.updated may carry a contact person's name: the feed keeps the event, not the name."""
    rows = s.execute(
        select(outbox.c.position, outbox.c.data).where(
            outbox.c.subject_id == subject_id, outbox.c.type == "customer.updated"
        )
    ).all()
    for position, data in rows:
        if "name" in data or "contact_name" in data:
            cleaned = {k: v for k, v in data.items() if k not in ("name", "contact_name")}
            s.execute(update(outbox).where(outbox.c.position == position).values(data=cleaned))


def list_erasure_requests(
    db: Database, *, customer_id: uuid.UUID, vault: PersonalDataVault
) -> list[ErasureRequestRead]:
    with db.read() as s:
        if s.get(Customer, customer_id) is None:
            raise customer_not_found(customer_id)
        rows = _by_customer(s, ErasureRequest, customer_id, ErasureRequest.requested_at)
        return [with_reason(ErasureRequestRead.model_validate(r), vault, ERASURE_REASON) for r in rows]
