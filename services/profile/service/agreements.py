"""Service agreements: signing (superseding the same type), revoking, expiry, listing.
Records agreement.signed and agreement.revoked."""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import col

from services.common.auth import Principal
from services.common.db import Database
from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.idempotency import IdempotencyRequest, StoredResponse
from services.common.pagination import newest_first, page_of, time_id_key
from services.common.pii import PersonalDataVault
from services.profile.models import Agreement
from services.profile.schemas.agreements import AgreementRead, AgreementSign
from services.profile.service.customers import audit_change
from services.profile.service.events import record_events
from services.profile.service.guards import require_active_customer, require_customer_row
from services.profile.service.idempotent import remember, stored_answer
from services.profile.service.reasons import REVOKE_REASON, with_reason

CLOCK_SKEW = timedelta(minutes=5)


def _z(t: datetime | None) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t else None


def state_of(a: Agreement, now: datetime) -> str:
    if a.status == "active" and a.expires_at is not None and a.expires_at <= now:
        return "expired"
    return a.status


def present_agreement(a: Agreement, now: datetime, vault: PersonalDataVault, *, full: bool = False) -> AgreementRead:
    """The agreement as a response shows it: a revocation's typed reason masked unless `full` (the export)."""
    read = AgreementRead(
        id=a.id,
        customer_id=a.customer_id,
        agreement_type=a.agreement_type,
        version=a.version,
        channel=a.channel,
        signed_at=a.signed_at,
        expires_at=a.expires_at,
        status=state_of(a, now),
        revoked_at=a.revoked_at,
        revoke_reason=a.revoke_reason,
        superseded_by=a.superseded_by,
    )
    return with_reason(read, vault, REVOKE_REASON, key="revoke_reason", full=full)


def sign_agreement(
    db: Database,
    *,
    customer_id: uuid.UUID,
    sign_in: AgreementSign,
    actor: Principal,
    now: datetime,
    vault: PersonalDataVault,
    idem: IdempotencyRequest | None = None,
) -> AgreementRead | StoredResponse:
    """Supersedes the customer's active agreement of the same type; records agreement.signed."""
    signed_at = sign_in.signed_at or now
    errors = []
    backdated = signed_at < now - CLOCK_SKEW
    if sign_in.signed_at is not None and actor.role == "customer":
        msg = "a customer signs now: the server's time is recorded"
        errors.append({"loc": ["body", "signed_at"], "msg": msg, "type": "not_for_role"})
    elif signed_at > now + CLOCK_SKEW:
        errors.append({"loc": ["body", "signed_at"], "msg": "lies in the future", "type": "value_error"})
    elif backdated and not sign_in.signed_at_reason:
        msg = "an earlier signing time (a paper signing) needs a reason"
        errors.append({"loc": ["body", "signed_at_reason"], "msg": msg, "type": "missing"})
    if sign_in.expires_at is not None and sign_in.expires_at <= signed_at:
        errors.append({"loc": ["body", "expires_at"], "msg": "must be after signed_at", "type": "value_error"})
    if errors:
        raise InvalidInput(errors)
    with db.write() as s:
        if stored := stored_answer(s, idem):
            return stored
        require_active_customer(s, customer_id)
        new = Agreement(
            customer_id=customer_id,
            agreement_type=sign_in.agreement_type,
            version=sign_in.version,
            channel=sign_in.channel,
            signed_at=signed_at,
            expires_at=sign_in.expires_at,
            actor_sub=actor.sub,
        )
        old = s.execute(
            select(Agreement).where(
                Agreement.customer_id == customer_id,
                Agreement.agreement_type == sign_in.agreement_type,
                Agreement.status == "active",
            )
        ).scalars()
        for a in old:
            a.status, a.superseded_by = "superseded", new.id
        s.add(new)
        s.flush()
        if backdated:
            reason = sign_in.signed_at_reason or ""
            audit_change(
                s, customer_id, actor, action="agreement.backdated", reason=reason, fields="signed_at", vault=vault
            )
        data = {
            "agreement_id": str(new.id),
            "agreement_type": new.agreement_type,
            "version": new.version,
            "channel": new.channel,
            "signed_at": _z(new.signed_at),
            "expires_at": _z(new.expires_at),
        }
        view = remember(s, idem, 201, present_agreement(new, now, vault))
        record_events(s, [("agreement.signed", str(customer_id), data)], now)
        s.commit()
        return view


def revoke_agreement(
    db: Database,
    *,
    customer_id: uuid.UUID,
    agreement_id: uuid.UUID,
    reason: str,
    now: datetime,
    vault: PersonalDataVault,
) -> AgreementRead:
    """409 agreement_not_active unless active and unexpired; records agreement.revoked."""
    with db.write() as s:
        require_customer_row(s, customer_id, lock=True)
        a = s.get(Agreement, agreement_id, with_for_update=True)
        if a is None or a.customer_id != customer_id:
            raise NotFound(f"No agreement {agreement_id} for this customer", code="agreement_not_found")
        if state_of(a, now) != "active":
            raise Conflict(f"The agreement is {state_of(a, now)}", code="agreement_not_active")
        a.status, a.revoked_at, a.revoke_reason = "revoked", now, vault.seal(reason, REVOKE_REASON)
        data = {"agreement_id": str(a.id), "agreement_type": a.agreement_type, "revoked_at": _z(now)}
        record_events(s, [("agreement.revoked", str(customer_id), data)], now)
        s.commit()
        return present_agreement(a, now, vault)


def list_agreements(
    db: Database,
    *,
    customer_id: uuid.UUID,
    active_only: bool,
    now: datetime,
    limit: int,
    cursor: str | None,
    vault: PersonalDataVault,
) -> tuple[list[AgreementRead], str | None]:
    """Newest signing first; `active_only` leaves out revoked, superseded and expired ones."""
    stmt = select(Agreement).where(Agreement.customer_id == customer_id)
    if active_only:
        stmt = stmt.where(
            Agreement.status == "active", col(Agreement.expires_at).is_(None) | (col(Agreement.expires_at) > now)
        )
    stmt = newest_first(stmt, Agreement.signed_at, Agreement.id, cursor, limit)
    with db.read() as s:
        require_customer_row(s, customer_id)
        rows = [present_agreement(a, now, vault) for a in s.execute(stmt).scalars()]
    return page_of(rows, limit, key=time_id_key("signed_at"))
