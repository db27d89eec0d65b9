"""What every batch path of profile shares: each item validated on its own and refused alone (its
index, a code and field errors), and the write retried when a concurrent batch stored one of the
same keys first, so the items are classified again against what is now stored."""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import exc
from sqlalchemy.orm import Session

from services.common.db import Database, is_unique_violation
from services.profile.schemas.batches import BatchRejection

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")
B = TypeVar("B", bound="Refusals")
G = TypeVar("G")
ATTEMPTS = 3


@dataclass
class Refusals:
    rejected: list[BatchRejection] = field(default_factory=list)

    def reject(self, index: int, external_id: str | None, code: str, detail: str, errors: Sequence = ()) -> None:
        self.rejected.append(
            BatchRejection(index=index, external_id=external_id, code=code, detail=detail, errors=list(errors))
        )

    def in_order(self) -> list[BatchRejection]:
        return sorted(self.rejected, key=lambda r: r.index)


def external_id_of(item: Any) -> str | None:
    """The item's `external_id` as sent, for the refusal of an item that fails its schema."""
    ext = item.get("external_id") if isinstance(item, dict) else None
    return ext if isinstance(ext, str) and len(ext) <= 64 else None


def item_errors(index: int, errors: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Field errors located in the batch (`["items", index, ...]`); a leading "body" is dropped."""
    out = []
    for e in errors:
        loc = list(e["loc"])
        loc = loc[1:] if loc[:1] == ["body"] else loc
        out.append({"loc": ["items", index, *loc], "msg": e["msg"], "type": e["type"]})
    return out


def validated(items: list[Any], adapter: TypeAdapter[M], refusals: Refusals) -> Iterator[tuple[int, M]]:
    """(index, item) for each item that matches its schema; the others are refused validation_failed."""
    for i, item in enumerate(items):
        try:
            yield i, adapter.validate_python(item)
        except ValidationError as err:
            detail = "the record does not match the schema"
            refusals.reject(i, external_id_of(item), "validation_failed", detail, item_errors(i, err.errors()))


def retry_on_unique_violation(attempt: Callable[[], R]) -> R:
    """`attempt()` (one classification and one transaction) again when a concurrent writer stored
    one of the same keys first; a third failure, or any other integrity error, is raised."""
    for n in range(ATTEMPTS):
        try:
            return attempt()
        except exc.IntegrityError as err:
            if not is_unique_violation(err) or n == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def write_batch(
    db: Database, new: Callable[[], B], parse: Callable[[B], G], store: Callable[[Session, G, B], None]
) -> B:
    """One batch path's write: `parse` the items into a fresh outcome (`new()`), refusing the bad ones,
    then `store` the good ones in one transaction, committed here; again from the start when a
    concurrent batch stored one of the same keys first."""

    def attempt() -> B:
        batch = new()
        good = parse(batch)
        with db.write() as s:
            store(s, good, batch)
            s.commit()
        return batch

    return retry_on_unique_violation(attempt)
