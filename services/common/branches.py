"""The organisation tree (head office, province branches, city branches, outlets): the `branch` table
profile owns and every other service copies from profile's feed (branch.created, branch.changed),
and the questions each asks of its own copy: a branch's ancestors and its subtree."""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.orm import Session

from services.common.db import UTCDateTime, upsert_insert
from services.common.errors import InvalidInput

# From the root down; a branch sits below a branch of a higher level (an outlet may hang directly
# under a city or a province branch, as county outlets do).
LEVELS: tuple[str, ...] = ("head_office", "province", "city", "outlet")
BRANCH_STATUSES: tuple[str, ...] = ("open", "closed")
BRANCH_EVENTS = ("branch.created", "branch.changed")
# What a branch event carries: its whole state, so a copy is one upsert.
STATE_FIELDS = ("code", "name", "level", "parent_code", "status", "version")


def branch_table(metadata: MetaData) -> Table:
    return Table(
        "branch",
        metadata,
        Column("code", String(16), primary_key=True),
        Column("name", String(100), nullable=False),
        Column("level", String(16), nullable=False),
        Column("parent_code", String(16), nullable=True, index=True),
        Column("status", String(8), nullable=False),
        Column("version", Integer, nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
    )


def level_rank(level: str) -> int:
    return LEVELS.index(level)


def subtree_codes(s: Session, table: Table, code: str) -> set[str]:
    """`code` and every branch below it (closed ones included: their records stay in scope); empty
    when the branch is unknown. One recursive query, on both databases."""
    base = select(table.c.code).where(table.c.code == code).cte("subtree", recursive=True)
    below = select(table.c.code).join(base, table.c.parent_code == base.c.code)
    tree = base.union_all(below)
    return set(s.execute(select(tree.c.code)).scalars())


def ancestor_codes(s: Session, table: Table, code: str) -> list[str]:
    """The codes above `code`, its parent first, the root last (a bounded walk: a tree is shallow)."""
    found: list[str] = []
    parent = s.execute(select(table.c.parent_code).where(table.c.code == code)).scalar()
    while parent is not None and parent not in found and len(found) < len(LEVELS) * 4:
        found.append(parent)
        parent = s.execute(select(table.c.parent_code).where(table.c.code == parent)).scalar()
    return found


def branch_state(row: Any) -> dict[str, Any]:
    """What branch.created and branch.changed carry about a branch."""
    return {f: getattr(row, f) for f in STATE_FIELDS}


def apply_branch_event(s: Session, table: Table, data: dict[str, Any], occurred_at: Any) -> None:
    """Keeps a copy of the tree: the event's state replaces the branch's, unless the copy already
    holds a later version (a replayed feed never moves a branch back)."""
    values = {f: data[f] for f in STATE_FIELDS} | {"updated_at": occurred_at}
    stmt = upsert_insert(s)(table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.code],
        set_={f: stmt.excluded[f] for f in (*STATE_FIELDS[1:], "updated_at")},
        where=table.c.version < stmt.excluded.version,
    )
    s.execute(stmt)


def branch_handlers(table: Table) -> dict[str, Callable[[Session, Any], None]]:
    """A feed consumer's handlers that keep `table` a copy of profile's tree."""

    def handle(s: Session, event: Any) -> None:
        apply_branch_event(s, table, event.data, event.occurred_at)

    return dict.fromkeys(BRANCH_EVENTS, handle)


def check_in_reach(code: str, reach: set[str] | None, field: str = "branch_code") -> None:
    """A create or move into a branch outside the caller's subtree is 422 naming `field`."""
    if reach is not None and code not in reach:
        raise InvalidInput(
            [
                {
                    "loc": ["body", field],
                    "msg": f"the branch {code} is outside your branch's subtree",
                    "type": "out_of_reach",
                }
            ]
        )
