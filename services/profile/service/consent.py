"""Contact points, marketing consent per channel (append-only history), the do-not-contact flag that
overrides every consent, and which channels may be used right now. Consent changes record
consent.changed with the channels usable after the change."""

import re
import uuid
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.auth import Principal
from services.common.db import Database
from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.idempotency import IdempotencyRequest, StoredResponse
from services.common.pagination import id_key, newest_id_first, page_of
from services.common.pii import mask_email
from services.profile.models import ConsentRecord, ContactPoint, Customer, DoNotContactRecord
from services.profile.schemas.consent import (
    ChannelConsent,
    ChannelContactability,
    ConsentChange,
    ConsentRecordRead,
    ConsentState,
    Contactability,
    ContactCreate,
    ContactRead,
)
from services.profile.schemas.fields import single_line
from services.profile.service.customers import EMAIL_FIELD, PHONE_FIELD, Privacy, audit_change
from services.profile.service.events import record_events
from services.profile.service.guards import require_active_customer, require_customer_row
from services.profile.service.idempotent import remember, stored_answer
from services.profile.service.identity import normalise_email
from services.profile.service.phones import normalise_phone, phone_kinds
from services.profile.service.reasons import DO_NOT_CONTACT_REASON

CONTACT_FIELD = "contact_point.value"
CHANNELS = ("sms", "phone_call", "email", "app_push")
MAX_CONTACTS = 20
_PUSH_TOKEN = re.compile(r"^[A-Za-z0-9:_-]{16,256}$")
# Which contact kinds make a marketing channel usable.
NEEDS = {"sms": {"mobile"}, "phone_call": {"mobile", "landline"}, "email": {"email"}, "app_push": {"app_push"}}


def normalise_contact(kind: str, value: str) -> str:
    """The stored form of a contact value; 422 naming `value` when it does not fit its kind."""
    try:
        if kind in ("mobile", "landline"):
            phone = normalise_phone(value)
            if kind not in phone_kinds(phone):
                raise ValueError(f"not a {kind} number")
            return phone
        if kind == "email":
            return normalise_email(value)
        if kind == "postal_address":
            value = single_line(value.strip())
            if not 5 <= len(value) <= 200:
                raise ValueError("a postal address is 5 to 200 characters")
            return value
        if not _PUSH_TOKEN.match(value):
            raise ValueError("an app push token is 16-256 of A-Z a-z 0-9 : _ -")
        return value
    except ValueError as err:
        raise InvalidInput([{"loc": ["body", "value"], "msg": str(err), "type": "value_error"}]) from None


def _mask(kind: str, value: str, privacy: Privacy) -> str:
    if kind in ("mobile", "landline"):
        return privacy.phone_mask.apply(value)
    if kind == "email":
        return mask_email(value)
    keep = 6 if kind == "postal_address" else 4
    return value[:keep] + "****"


def present_contact(c: ContactPoint, privacy: Privacy) -> ContactRead:
    value = privacy.vault.decrypt(c.value_enc, CONTACT_FIELD)
    return ContactRead(
        id=c.id,
        customer_id=c.customer_id,
        kind=c.kind,
        value=_mask(c.kind, value, privacy),
        is_preferred=c.is_preferred,
        created_at=c.created_at,
    )


def add_contact(
    db: Database, *, customer_id: uuid.UUID, contact_in: ContactCreate, privacy: Privacy, now: datetime
) -> ContactRead:
    """409 contact_duplicate for the same kind and value, 409 contact_limit past MAX_CONTACTS."""
    value = normalise_contact(contact_in.kind, contact_in.value)
    with db.write() as s:
        require_active_customer(s, customer_id)
        existing = list(s.execute(select(ContactPoint).where(ContactPoint.customer_id == customer_id)).scalars())
        if len(existing) >= MAX_CONTACTS:
            raise Conflict(f"A customer has at most {MAX_CONTACTS} contact points", code="contact_limit")
        for c in existing:
            if c.kind == contact_in.kind and privacy.vault.decrypt(c.value_enc, CONTACT_FIELD) == value:
                raise Conflict("This contact point is already recorded", code="contact_duplicate", contact_id=str(c.id))
        if contact_in.is_preferred:
            for c in existing:
                c.is_preferred = False
        c = ContactPoint(
            customer_id=customer_id,
            kind=contact_in.kind,
            value_enc=privacy.vault.encrypt(value, CONTACT_FIELD),
            is_preferred=contact_in.is_preferred,
            created_at=now,
        )
        s.add(c)
        s.flush()
        # Who can be reached changed: followers learn the usable channels.
        _record_consent_event(s, customer_id, privacy, now, channel=None, status=None)
        s.commit()
        return present_contact(c, privacy)


def prefer_contact(db: Database, *, customer_id: uuid.UUID, contact_id: uuid.UUID, privacy: Privacy) -> ContactRead:
    with db.write() as s:
        require_active_customer(s, customer_id)
        c = _require_contact(s, customer_id, contact_id)
        s.execute(update(ContactPoint).where(ContactPoint.customer_id == customer_id).values(is_preferred=False))
        c.is_preferred = True
        s.commit()
        return present_contact(c, privacy)


def remove_contact(
    db: Database, *, customer_id: uuid.UUID, contact_id: uuid.UUID, privacy: Privacy, now: datetime
) -> None:
    with db.write() as s:
        require_active_customer(s, customer_id)
        _require_contact(s, customer_id, contact_id)
        s.execute(delete(ContactPoint).where(ContactPoint.id == contact_id))
        _record_consent_event(s, customer_id, privacy, now, channel=None, status=None)
        s.commit()


def _require_contact(s: Session, customer_id: uuid.UUID, contact_id: uuid.UUID) -> ContactPoint:
    c = s.get(ContactPoint, contact_id)
    if c is None or c.customer_id != customer_id:
        raise NotFound(f"No contact point {contact_id} for this customer", code="contact_not_found")
    return c


def list_contacts(db: Database, *, customer_id: uuid.UUID, privacy: Privacy) -> list[ContactRead]:
    """Preferred first, then oldest first."""
    stmt = select(ContactPoint).where(ContactPoint.customer_id == customer_id)
    stmt = stmt.order_by(col(ContactPoint.is_preferred).desc(), ContactPoint.created_at, ContactPoint.id)
    with db.read() as s:
        require_customer_row(s, customer_id)
        return [present_contact(c, privacy) for c in s.execute(stmt).scalars()]


def change_consent(
    db: Database,
    *,
    customer_id: uuid.UUID,
    change: ConsentChange,
    actor: Principal,
    privacy: Privacy,
    now: datetime,
    idem: IdempotencyRequest | None = None,
) -> ConsentRecordRead | StoredResponse:
    """Appends to the history (even when the status is unchanged: a renewed consent under a new
    policy version is a fact worth keeping); records consent.changed."""
    with db.write() as s:
        if stored := stored_answer(s, idem):
            return stored
        require_active_customer(s, customer_id)
        rec = ConsentRecord(
            customer_id=customer_id,
            purpose=change.purpose,
            channel=change.channel,
            status=change.status,
            given_via=change.given_via,
            policy_version=change.policy_version,
            actor_sub=actor.sub,
            recorded_at=now,
        )
        s.add(rec)
        s.flush()
        view = remember(s, idem, 201, ConsentRecordRead.model_validate(rec))
        _record_consent_event(s, customer_id, privacy, now, channel=change.channel, status=change.status)
        s.commit()
        return view


def set_do_not_contact(
    db: Database,
    *,
    customer_id: uuid.UUID,
    do_not_contact: bool,
    reason: str,
    actor: Principal,
    privacy: Privacy,
    now: datetime,
) -> ConsentState:
    """Records consent.changed with `channel` and `status` null: the flag is not one channel's."""
    with db.write() as s:
        require_active_customer(s, customer_id)
        s.add(
            DoNotContactRecord(
                customer_id=customer_id,
                do_not_contact=do_not_contact,
                reason=privacy.vault.seal(reason, DO_NOT_CONTACT_REASON),
                actor_sub=actor.sub,
                recorded_at=now,
            )
        )
        s.flush()
        _record_consent_event(s, customer_id, privacy, now, channel=None, status=None)
        s.commit()
        return _consent_state(s, customer_id)


def _record_consent_event(
    s: Session, customer_id: uuid.UUID, privacy: Privacy, now: datetime, *, channel: str | None, status: str | None
) -> None:
    reach = _contactability(s, customer_id, privacy)
    kinds = _reachable_kinds(s, customer_id, privacy)
    data = {
        "channel": channel,
        "purpose": "marketing",
        "status": status,
        "do_not_contact": reach.do_not_contact,
        "contactable_channels": reach.contactable_channels,
        # Channels with a contact point whatever the consent: service messages need no marketing consent.
        "reachable_channels": [ch for ch in CHANNELS if NEEDS[ch] & kinds],
    }
    record_events(s, [("consent.changed", str(customer_id), data)], now)


def _current_consents(s: Session, customer_id: uuid.UUID) -> dict[str, ConsentRecord]:
    newest = (
        select(func.max(ConsentRecord.id))
        .where(ConsentRecord.customer_id == customer_id, ConsentRecord.purpose == "marketing")
        .group_by(ConsentRecord.channel)
    )
    rows = s.execute(select(ConsentRecord).where(col(ConsentRecord.id).in_(newest))).scalars()
    return {r.channel: r for r in rows}


def _do_not_contact(s: Session, customer_id: uuid.UUID) -> bool:
    flag = s.execute(
        select(DoNotContactRecord.do_not_contact)
        .where(DoNotContactRecord.customer_id == customer_id)
        .order_by(col(DoNotContactRecord.id).desc())
        .limit(1)
    ).scalar()
    return bool(flag)


def _consent_state(s: Session, customer_id: uuid.UUID) -> ConsentState:
    current = _current_consents(s, customer_id)
    channels = []
    for ch in CHANNELS:
        r = current.get(ch)
        channels.append(
            ChannelConsent(
                channel=ch,
                status=r.status if r else "none",
                given_via=r.given_via if r else None,
                policy_version=r.policy_version if r else None,
                recorded_at=r.recorded_at if r else None,
            )
        )
    return ConsentState(
        customer_id=customer_id, purpose="marketing", do_not_contact=_do_not_contact(s, customer_id), channels=channels
    )


def read_consents(db: Database, *, customer_id: uuid.UUID) -> ConsentState:
    with db.read() as s:
        require_customer_row(s, customer_id)
        return _consent_state(s, customer_id)


def consent_history(
    db: Database, *, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[ConsentRecordRead], str | None]:
    """Newest first."""
    stmt = select(ConsentRecord).where(ConsentRecord.customer_id == customer_id)
    stmt = newest_id_first(stmt, ConsentRecord.id, cursor, limit)
    with db.read() as s:
        require_customer_row(s, customer_id)
        rows = [ConsentRecordRead.model_validate(r) for r in s.execute(stmt).scalars()]
    return page_of(rows, limit, key=id_key)


def _reachable_kinds(s: Session, customer_id: uuid.UUID, privacy: Privacy) -> set[str]:
    kinds = set(s.execute(select(ContactPoint.kind).where(ContactPoint.customer_id == customer_id)).scalars())
    c = s.execute(select(Customer.phone_enc, Customer.email_enc).where(Customer.id == customer_id)).first()
    if c is not None:
        phone = privacy.vault.decrypt(c.phone_enc, PHONE_FIELD)
        if phone:
            kinds.update(phone_kinds(phone))
        if c.email_enc:
            kinds.add("email")
    return kinds


def _contactability(s: Session, customer_id: uuid.UUID, privacy: Privacy) -> Contactability:
    row = require_customer_row(s, customer_id)
    dnc = _do_not_contact(s, customer_id)
    current = _current_consents(s, customer_id)
    kinds = _reachable_kinds(s, customer_id, privacy)
    channels = []
    for ch in CHANNELS:
        consent = current.get(ch)
        if row.status != "active":
            reason = "customer_closed"
        elif dnc:
            reason = "do_not_contact"
        elif consent is None:
            reason = "no_consent"
        elif consent.status != "granted":
            reason = "consent_withdrawn"
        elif not NEEDS[ch] & kinds:
            reason = "no_contact_point"
        else:
            reason = "consent_granted"
        channels.append(ChannelContactability(channel=ch, contactable=reason == "consent_granted", reason=reason))
    return Contactability(
        customer_id=customer_id,
        purpose="marketing",
        do_not_contact=dnc,
        channels=channels,
        contactable_channels=[c.channel for c in channels if c.contactable],
    )


def contactability(db: Database, *, customer_id: uuid.UUID, privacy: Privacy) -> Contactability:
    """Which marketing channels may be used right now, and for each other one why not; the
    do-not-contact flag overrides every consent."""
    with db.read() as s:
        return _contactability(s, customer_id, privacy)


def delivery_address(
    db: Database, *, customer_id: uuid.UUID, channel: str, actor: Principal, privacy: Privacy, now: datetime
) -> str | None:
    """The number (sms) or address (email) a service message goes to: the preferred contact point of
    that kind, else the newest, else the customer's own phone or email; None when there is none. Each
    answer is on the customer's access log (a system caller, sending a message). 404 when the customer
    is unknown or not active."""
    kinds = ("mobile",) if channel == "sms" else ("email",)
    with db.write() as s:
        require_active_customer(s, customer_id)
        c = s.execute(select(Customer.phone_enc, Customer.email_enc).where(Customer.id == customer_id)).one()
        points = list(
            s.execute(
                select(ContactPoint)
                .where(ContactPoint.customer_id == customer_id, col(ContactPoint.kind).in_(kinds))
                .order_by(col(ContactPoint.is_preferred).desc(), col(ContactPoint.created_at).desc())
            ).scalars()
        )
        if points:
            value: str | None = privacy.vault.decrypt(points[0].value_enc, CONTACT_FIELD)
        elif channel == "sms":
            phone = privacy.vault.decrypt(c.phone_enc, PHONE_FIELD)
            value = phone if phone and "mobile" in phone_kinds(phone) else None
        else:
            value = privacy.vault.decrypt(c.email_enc, EMAIL_FIELD) if c.email_enc else None
        if value is None:
            return None
        audit_change(
            s,
            customer_id,
            actor,
            action="contact.delivered_to",
            reason=f"{channel} message",
            fields=channel,
            vault=privacy.vault,
            at=now,
        )
        s.commit()
        return value
