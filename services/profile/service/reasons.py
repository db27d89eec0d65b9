"""The reasons staff type about a customer (an identity check's override, an agreement's revocation, a
do-not-contact flag, an erasure request, the access log's why) are free text, so personal data (PIPL):
sealed with profile's vault at rest, shown with the values inside masked, in full in the person's own
export. The field names bound into each ciphertext (frozen in the migration that sealed old rows)."""

from typing import TypeVar

from pydantic import BaseModel

from services.common.pii import PersonalDataVault, open_text

OVERRIDE_REASON = "customer.id_check_override_reason"
REVOKE_REASON = "agreement.revoke_reason"
DO_NOT_CONTACT_REASON = "do_not_contact_record.reason"
ERASURE_REASON = "erasure_request.reason"
ACCESS_REASON = "audit_entry.reason"

Read = TypeVar("Read", bound=BaseModel)


def with_reason(read: Read, vault: PersonalDataVault, field: str, *, key: str = "reason", full: bool = False) -> Read:
    """`read` (validated from a row whose `key` is stored sealed) with that text opened: masked unless `full`."""
    return read.model_copy(update={key: open_text(vault, getattr(read, key), field, full=full)})
