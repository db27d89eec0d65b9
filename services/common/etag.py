"""Optimistic concurrency: ETag from a record's version, If-Match checked before a write."""

from services.common.errors import InvalidInput, PreconditionFailed, PreconditionRequired


def etag_for(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None, *, required: bool = True) -> int | None:
    """The version an If-Match header names; 428 when required and absent, 422 when malformed."""
    if if_match is None:
        if required:
            raise PreconditionRequired("Send If-Match with the ETag from your last read")
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise InvalidInput(
            [{"loc": ["header", "If-Match"], "msg": "not an ETag this API issued", "type": "etag_invalid"}]
        )
    return int(value)


def check_version(current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise PreconditionFailed(f"The record changed (now version {current}); read it again", current_version=current)
