"""The organisation tree (head office, province branches, city branches, outlets): the `branch` table
profile owns and every other service copies from profile's feed (branch.created, branch.changed),
and the questions each asks of its own copy: a branch's ancestors and its subtree."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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


# A process's reach checks read the tree from memory; it is reloaded when older than this, and at once
# when this process wrote to its tree (profile's admin edits, a copy applying a branch event) or when
# asked about a code it does not hold. Another process's write reaches it within this time.
TREE_TTL_SECONDS = 2.0
_generation = 0
_generation_lock = threading.Lock()


def tree_changed() -> None:
    """Marks every cached tree in this process stale (after a write to a branch table)."""
    global _generation
    with _generation_lock:
        _generation += 1


@dataclass(frozen=True)
class TreeSnapshot:
    """The whole tree in memory, code → parent code: a reach check costs no query."""

    parents: dict[str, str | None]
    loaded_at: float
    generation: int
    children: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, s: Session, table: Table) -> "TreeSnapshot":
        generation = _generation
        parents = {code: parent for code, parent in s.execute(select(table.c.code, table.c.parent_code))}
        children: dict[str, list[str]] = {}
        for code, parent in parents.items():
            if parent is not None:
                children.setdefault(parent, []).append(code)
        return cls(parents, time.monotonic(), generation, children)

    def fresh(self) -> bool:
        return self.generation == _generation and time.monotonic() - self.loaded_at < TREE_TTL_SECONDS

    def holds(self, code: str) -> bool:
        return code in self.parents

    def subtree(self, code: str) -> set[str]:
        """As subtree_codes: `code` and every branch below it; empty when unknown."""
        if code not in self.parents:
            return set()
        found, todo = {code}, [code]
        while todo:
            for child in self.children.get(todo.pop(), ()):
                if child not in found:
                    found.add(child)
                    todo.append(child)
        return found

    def within(self, branch: str, code: str) -> bool:
        """Is `code` the branch `branch` or below it? (A bounded walk up: a tree is shallow.)"""
        seen = 0
        current: str | None = code
        while current is not None and seen <= len(LEVELS) * 4:
            if current == branch:
                return True
            current = self.parents.get(current)
            seen += 1
        return False


class TreeCache:
    """One process's copy of a service's branch table (see TreeSnapshot), reloaded when stale."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._snapshot: TreeSnapshot | None = None

    def cached(self) -> TreeSnapshot | None:
        """The snapshot when it is fresh, else None (the caller reloads, off the event loop)."""
        snap = self._snapshot
        return snap if snap is not None and snap.fresh() else None

    def get(self, s: Session, *codes: str) -> TreeSnapshot:
        """A fresh snapshot that holds `codes` if the table does (reloading once when it does not)."""
        snap = self.cached()
        if snap is None or not all(snap.holds(c) for c in codes if c):
            snap = self._snapshot = TreeSnapshot.load(s, self.table)
        return snap


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
        tree_changed()

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
