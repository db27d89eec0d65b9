"""Rule segment membership: the statements that bring one segment's members in line with its rule
(for one customer or all), compiled once per (segment, version, scope) and cached, so an event
only executes them; time-dependent values (`now`, tenure cutoffs) are bound at each execution."""

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, and_, bindparam, delete, exists, insert, literal, null, select, true, union_all
from sqlalchemy.orm import Session

from services.common.db import UTCDateTime
from services.segmentation.models import RULE_CLASS, customer_feature, membership_change, segment_member
from services.segmentation.service.classify import (
    HISTORY_COLS,
    Scope,
    changes_since,
    emit_changes_since,
    last_change_id,
    lock_classification,
)
from services.segmentation.service.rules import clock_params, compile_rule

cf, sm = customer_feature.c, segment_member.c
CACHE_SIZE = 512


@dataclass(frozen=True)
class RuleStatements:
    moves: Executable  # history rows for every entry and exit
    leave: Executable
    enter: Executable
    clock_keys: Any  # the compiled rule, to find its time-dependent parameters

    def params(self, now: datetime, scope: Scope) -> dict[str, Any]:
        return clock_params(self.clock_keys, now) | {"now": now, "cid": scope.customer_id}


def _on(column, one: bool):
    return column == bindparam("cid") if one else true()


def build_statements(segment_id: str, rule: Any, one: bool, now: datetime) -> RuleStatements:
    expr = compile_rule(rule, now=now)
    scheme = f"rule:{segment_id}"
    stamp = bindparam("now", type_=UTCDateTime())
    is_member = exists(select(1).where(sm.segment_id == segment_id, sm.customer_id == cf.customer_id))
    entering = and_(_on(cf.customer_id, one), cf.type.is_not(None), expr, ~is_member)
    still = exists(select(1).where(cf.customer_id == sm.customer_id, cf.type.is_not(None), expr))
    leaving = and_(sm.segment_id == segment_id, _on(sm.customer_id, one), ~still)
    moves = union_all(
        select(cf.customer_id, literal(scheme), null(), literal(RULE_CLASS), stamp).where(entering),
        select(sm.customer_id, literal(scheme), literal(RULE_CLASS), null(), stamp).where(leaving),
    )
    return RuleStatements(
        moves=insert(membership_change).from_select(HISTORY_COLS, moves),
        leave=delete(segment_member).where(leaving),
        enter=insert(segment_member).from_select(
            ["segment_id", "customer_id", "since"], select(literal(segment_id), cf.customer_id, stamp).where(entering)
        ),
        clock_keys=expr,
    )


class RuleCache:
    """Compiled statements by (segment id, version, one customer or all), least recently used out.
    A version is immutable, so an entry never goes stale; a new version is a new key."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size, self.hits, self.misses = size, 0, 0
        self._entries: OrderedDict[tuple, RuleStatements] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, segment_id: str, version: int, one: bool, load_rule: Callable[[], Any], now: datetime):
        key = (segment_id, version, one)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return found
        built = build_statements(segment_id, load_rule(), one, now)
        with self._lock:
            self.misses += 1
            self._entries[key] = built
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return built


RULES = RuleCache()


def refresh_rule_segment(
    s: Session,
    *,
    segment_id: str,
    version: int,
    rule: Any | Callable[[], Any],
    now: datetime,
    scope: Scope = Scope(),
) -> int:
    """Brings one rule segment's members in line with its rule (a validated rule tree, or a callable
    that loads it, called only when this version's statements are not cached yet); returns entries
    plus exits, each with a history row and a segment.changed event."""
    lock_classification(s)
    load = rule if callable(rule) else (lambda: rule)
    stmts = RULES.get(segment_id, version, scope.one, load, now)
    params = stmts.params(now, scope)
    last = last_change_id(s)
    s.execute(stmts.moves, params)
    n = changes_since(s, last)
    if not n:
        return 0
    emit_changes_since(s, last, now)
    s.execute(stmts.leave, params)
    s.execute(stmts.enter, params)
    return n
