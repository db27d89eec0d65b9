"""Free text is personal data (PIPL): what people type into complaints, steps, survey answers and
follow-up notes is stored encrypted with the service's vault (services.common.pii), read back masked
(ID numbers, phones, cards and emails inside it) or, for a reveal, in full. The ERASED marker stays
as it is, so erasure and retention find what they already redacted."""

from typing import Any

from services.common.pii import ERASED, PersonalDataVault, open_text

DESCRIPTION_FIELD = "complaint.description"
NOTE_FIELD = "complaint_step.note"
ANSWER_FIELD = "survey_answer.text"
FOLLOW_UP_NOTE_FIELD = "follow_up.note"
# Free text inside a step's data (the rest of it, outcomes, dates, amounts and who acted, stays);
# a decision's remedy holds one more, its description.
STEP_TEXT_KEYS = ("reason", "facts_verified", "basis", "description", "remedy")
REMEDY_TEXT_KEY = "description"


def _step_field(key: str) -> str:
    return f"complaint_step.data.{key}"


def _map_step_text(data: dict[str, Any], apply: Any) -> dict[str, Any]:
    """`data` with apply(value, field) on each free-text value, nested remedy description included."""
    out: dict[str, Any] = {}
    for key, value in (data or {}).items():
        if key == "remedy" and isinstance(value, dict) and isinstance(value.get(REMEDY_TEXT_KEY), str):
            value = {**value, REMEDY_TEXT_KEY: apply(value[REMEDY_TEXT_KEY], _step_field("remedy.description"))}
        elif key in STEP_TEXT_KEYS and isinstance(value, str):
            value = apply(value, _step_field(key))
        out[key] = value
    return out


def seal_step_data(vault: PersonalDataVault, data: dict[str, Any]) -> dict[str, Any]:
    return _map_step_text(data, vault.seal)


def open_step_data(vault: PersonalDataVault, data: dict[str, Any], *, full: bool) -> dict[str, Any]:
    return _map_step_text(data, lambda value, field: open_text(vault, value, field, full=full))


def redact_step_data(data: dict[str, Any]) -> dict[str, Any]:
    """What an erasure leaves of a step's data: every free text ERASED."""
    return _map_step_text(data, lambda _value, _field: ERASED)
