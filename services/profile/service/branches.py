"""The organisation tree profile owns: listing (a subtree, a level, a parent's children), one branch
with its ancestors and children, and the admin's edits (create, rename, move, close), each on the
feed as branch.created or branch.changed with the branch's whole state."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, exc, func, select, update
from sqlalchemy.orm import Session

from services.common.branches import ancestor_codes, branch_state, level_rank, subtree_codes, tree_changed
from services.common.db import Database, is_unique_violation, utcnow
from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.etag import check_version
from services.common.outbox import record_event
from services.common.pagination import decode_cursor, page_of
from services.profile.models import Customer, branch, outbox
from services.profile.schemas.branches import BranchCreate, BranchUpdate

B = branch.c


@dataclass(frozen=True)
class BranchFilter:
    within: str | None = None  # this branch's subtree, itself included
    parent_code: str | None = None
    level: str | None = None
    status: str | None = None


def branch_not_found(code: str) -> NotFound:
    return NotFound(f"No branch {code}", code="branch_not_found")


def _field_error(field: str, msg: str, kind: str) -> InvalidInput:
    return InvalidInput([{"loc": ["body", field], "msg": msg, "type": kind}])


def require_branch(s: Session, code: str, *, lock: bool = False) -> Row:
    stmt = select(branch).where(B.code == code)
    row = s.execute(stmt.with_for_update() if lock else stmt).first()
    if row is None:
        raise branch_not_found(code)
    return row


def check_customer_branch(s: Session, code: str, field: str = "branch_code") -> None:
    """A customer belongs to a known, open branch: else 422 naming `field`."""
    status = s.execute(select(B.status).where(B.code == code)).scalar()
    if status is None:
        raise _field_error(field, f"no branch {code} in the organisation (GET /v1/branches)", "unknown_branch")
    if status != "open":
        raise _field_error(field, f"the branch {code} is closed", "branch_closed")


def list_branches(
    db: Database, *, filters: BranchFilter, limit: int, cursor: str | None
) -> tuple[list[Row], str | None]:
    """Ordered by code; `within` an unknown branch is 404."""
    after = decode_cursor(cursor)
    stmt = select(branch).order_by(B.code).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(B.code > after[0])
    for name in ("parent_code", "level", "status"):
        if (value := getattr(filters, name)) is not None:
            stmt = stmt.where(getattr(B, name) == value)
    with db.read() as s:
        if filters.within is not None:
            codes = subtree_codes(s, branch, filters.within)
            if not codes:
                raise branch_not_found(filters.within)
            stmt = stmt.where(B.code.in_(codes))
        rows = list(s.execute(stmt))
    return page_of(rows, limit, key=lambda r: [r.code])


def read_branch(db: Database, *, code: str) -> tuple[Row, list[Row], list[Row]]:
    """The branch, its ancestors (parent first) and its children (by code)."""
    with db.read() as s:
        row = require_branch(s, code)
        above = ancestor_codes(s, branch, code)
        by_code = {r.code: r for r in s.execute(select(branch).where(B.code.in_(above)))} if above else {}
        children = list(s.execute(select(branch).where(B.parent_code == code).order_by(B.code)))
    return row, [by_code[c] for c in above], children


def _check_parent(s: Session, level: str, parent_code: str | None, *, lock: bool = True) -> None:
    """A head office has no parent and is the only root; any other branch sits under an open branch of
    a higher level. 422 naming parent_code (or level) otherwise."""
    if level == "head_office":
        if parent_code is not None:
            raise _field_error("parent_code", "a head office has no parent", "not_for_level")
        root = s.execute(select(B.code).where(B.parent_code.is_(None))).scalar()
        if root is not None:
            raise _field_error("level", f"the organisation already has its head office {root}", "one_head_office")
        return
    if parent_code is None:
        raise _field_error("parent_code", f"required for a {level}", "missing_for_level")
    parent = s.execute(select(B.level, B.status).where(B.code == parent_code)).first()
    if parent is None:
        raise _field_error("parent_code", f"no branch {parent_code}", "unknown_branch")
    if parent.status != "open":
        raise _field_error("parent_code", f"the branch {parent_code} is closed", "branch_closed")
    if level_rank(parent.level) >= level_rank(level):
        raise _field_error("parent_code", f"a {level} cannot sit under a {parent.level} ({parent_code})", "level_order")


def create_branch(db: Database, *, branch_in: BranchCreate) -> Row:
    """Records branch.created; 409 branch_exists for a code already used."""
    now = utcnow()
    with db.write() as s:
        if s.execute(select(B.code).where(B.code == branch_in.code)).first() is not None:
            raise _exists(branch_in.code)
        _check_parent(s, branch_in.level, branch_in.parent_code)
        values = branch_in.model_dump() | {"status": "open", "version": 1, "updated_at": now}
        try:
            s.execute(branch.insert().values(**values))
            row = require_branch(s, branch_in.code)
            record_event(s, outbox, type="branch.created", subject_id=row.code, data=branch_state(row))
            s.commit()
            tree_changed()
        except exc.IntegrityError as err:
            s.rollback()
            if is_unique_violation(err):
                raise _exists(branch_in.code) from None
            raise
        return row


def _exists(code: str) -> Conflict:
    return Conflict(f"The branch {code} already exists", code="branch_exists")


def update_branch(db: Database, *, code: str, changes: BranchUpdate, expected_version: int | None) -> Row:
    """Rename, move (with its whole subtree) or close; records branch.changed naming the changed
    fields. Moving under itself or its own subtree is 409 branch_cycle; closing a branch that still
    has open branches or active customers below it is 409 branch_in_use; a closed branch cannot be
    changed (409 branch_closed); 412 when stale."""
    sent = {f: getattr(changes, f) for f in changes.model_fields_set}
    nulls = [f for f, v in sent.items() if v is None]
    if nulls:
        raise InvalidInput([{"loc": ["body", f], "msg": "may not be null", "type": "null_not_allowed"} for f in nulls])
    with db.write() as s:
        row = require_branch(s, code, lock=True)
        check_version(row.version, expected_version)
        if row.status == "closed":
            raise Conflict(f"The branch {code} is closed", code="branch_closed")
        new: dict[str, Any] = {f: v for f, v in sent.items() if getattr(row, f) != v}
        if "parent_code" in new:
            _check_move(s, row, new["parent_code"])
        if new.get("status") == "closed":
            _check_closable(s, code)
        if not new:
            return row
        s.execute(update(branch).where(B.code == code).values(**new, version=row.version + 1, updated_at=utcnow()))
        row = require_branch(s, code)
        record_event(
            s, outbox, type="branch.changed", subject_id=code, data=branch_state(row) | {"changed": sorted(new)}
        )
        s.commit()
        tree_changed()
        return row


def _check_move(s: Session, row: Row, parent_code: str) -> None:
    if row.level == "head_office":
        raise _field_error("parent_code", "the head office has no parent", "not_for_level")
    if parent_code in subtree_codes(s, branch, row.code):
        raise Conflict(
            f"Moving {row.code} under {parent_code} would make a cycle: {parent_code} is "
            + ("the branch itself" if parent_code == row.code else f"inside {row.code}'s own subtree"),
            code="branch_cycle",
        )
    _check_parent(s, row.level, parent_code)


def _check_closable(s: Session, code: str) -> None:
    below = subtree_codes(s, branch, code) - {code}
    open_below = s.execute(select(func.count()).where(B.code.in_(below), B.status == "open")).scalar_one()
    customers = s.execute(
        select(func.count()).where(Customer.branch_code == code, Customer.status == "active")
    ).scalar_one()
    if open_below or customers:
        raise Conflict(
            f"The branch {code} still has {open_below} open branches and {customers} active customers;"
            " move or close them first",
            code="branch_in_use",
        )
