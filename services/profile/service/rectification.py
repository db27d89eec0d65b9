"""Rectification (PIPL art. 46): a customer corrects their own contact data and the spelling of their
name; identity-bound data (the identity document, and the birth date and sex it carries) changes only
by staff, with a reason. Every correction is on the access log (the fields, never the values) and on
the feed as `customer.updated`, so the other services' copies follow."""

import uuid
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.auth import Principal
from services.common.db import Database, utcnow
from services.common.errors import Conflict, InvalidInput
from services.common.outbox import record_event
from services.common.pii import PersonalDataVault
from services.profile.models import Customer, outbox
from services.profile.schemas.customers import CustomerUpdate, IdentityCorrection
from services.profile.service.customers import (
    ID_FIELD,
    Privacy,
    audit_change,
    id_lookup_hash,
    locked_active,
)
from services.profile.service.documents import identity_key

SELF_SERVICE_FIELDS = frozenset({"name", "phone", "email", "contact_name"})
PERSONAL_FIELDS = SELF_SERVICE_FIELDS  # what a change of is logged on the access log
SELF_REASON = "the customer's own correction (PIPL art. 46)"


def check_self_service(changes: CustomerUpdate) -> None:
    """A customer's own PATCH may correct their name and contact data; the rest is the branch's."""
    others = sorted(changes.model_fields_set - SELF_SERVICE_FIELDS)
    if others:
        raise InvalidInput(
            [
                {"loc": ["body", f], "msg": "changed by staff, not by the customer", "type": "not_self_service"}
                for f in others
            ]
        )


def rectification_log(actor: Principal, v: PersonalDataVault) -> Callable[[Session, Customer, list[str]], None]:
    """For update_customer: one access-log record naming the personal fields a change touched."""

    def log(s: Session, c: Customer, changed: list[str]) -> None:
        personal = [f for f in changed if f in PERSONAL_FIELDS]
        if personal:
            reason = SELF_REASON if actor.is_customer else "staff update"
            audit_change(
                s, c.id, actor, action="personal_data.rectified", reason=reason, fields=",".join(personal), vault=v
            )

    return log


def correct_identity(
    db: Database,
    *,
    customer_id: uuid.UUID,
    correction: IdentityCorrection,
    actor: Principal,
    privacy: Privacy,
    expected_version: int | None,
) -> Customer:
    """Individuals only (an organisation's credit code is its registration). 409 customer_duplicate when
    another customer holds the document; records customer.updated with `changed: ["id_number"]`."""
    doc = correction.id_document
    if (doc.type == "passport") != (doc.country is not None):
        msg = "required for a passport: its issuing state" if doc.country is None else "only for a passport"
        raise InvalidInput([{"loc": ["body", "id_document", "country"], "msg": msg, "type": "country_for_type"}])
    v = privacy.vault
    id_hash = id_lookup_hash(v, doc.type, identity_key(doc.type, doc.number, doc.country))
    with db.write() as s:
        c = locked_active(s, customer_id, expected_version)
        if c.type != "individual":
            raise InvalidInput(
                [{"loc": ["body", "id_document"], "msg": f"not used for {c.type}", "type": "not_for_type"}]
            )
        other = s.execute(select(Customer.id).where(Customer.id_number_hash == id_hash, Customer.id != c.id)).scalar()
        if other is not None:
            raise Conflict(
                "A customer with this identity number is already registered",
                code="customer_duplicate",
                existing_customer_id=str(other),
            )
        c.id_type, c.id_country = doc.type, doc.country
        c.id_number_enc, c.id_number_hash = v.encrypt(doc.number, ID_FIELD), id_hash
        c.version += 1
        c.updated_at = utcnow()
        audit_change(
            s, c.id, actor, action="identity.corrected", reason=correction.reason, fields="id_document", vault=v
        )
        record_event(
            s,
            outbox,
            type="customer.updated",
            subject_id=str(c.id),
            data={"customer_no": c.customer_no, "changed": ["id_number"]},
        )
        s.commit()
        return c
