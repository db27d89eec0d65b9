"""Rule segments: a JSON rule tree (all / any / not over field comparisons) validated against the
feature schema and compiled to one SQLAlchemy expression over customer_feature. No eval and no SQL
text: every field maps to a column and every value is a bound parameter.

A condition is {"field": ..., "op": ..., "value": ...}; `in` takes a list, `between` [low, high]
(inclusive), `is_null` true or false. Money fields take "12345.67"; times RFC 3339 with a zone;
`tenure_days` counts whole days since registration at the time of evaluation."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, and_, bindparam, false, not_, or_, true
from sqlalchemy.sql import visitors

from services.common.db import UTCDateTime
from services.common.errors import InvalidInput
from services.common.money import str_to_fen
from services.segmentation.models import CLASSES, customer_feature

cf = customer_feature.c
OPS = ("eq", "ne", "in", "gt", "gte", "lt", "lte", "between", "is_null")
ORDERED_KINDS = ("int", "money", "time", "tenure", "risk")
MAX_NODES = 200
MAX_DEPTH = 12
MAX_IN = 500
TENURE_PREFIX = "tenure_cutoff_"


@dataclass(frozen=True)
class Field:
    kind: str  # int, money, time, text, enum, bool, risk, tenure
    column: Any
    choices: tuple[str, ...] = ()


FIELDS: dict[str, Field] = {
    "type": Field("enum", cf.type, CLASSES["customer_type"]),
    "region_type": Field("enum", cf.region_type, CLASSES["region"]),
    "province": Field("text", cf.province),
    "city": Field("text", cf.city),
    "branch_code": Field("text", cf.branch_code),
    "status": Field("enum", cf.status, ("active", "closed")),
    "aum": Field("money", cf.aum_fen),
    "last_txn_at": Field("time", cf.last_txn_at),
    "txn_count_30": Field("int", cf.txn_count_30),
    "txn_count_90": Field("int", cf.txn_count_90),
    "txn_count_365": Field("int", cf.txn_count_365),
    "txn_amount_30": Field("money", cf.txn_amount_fen_30),
    "txn_amount_90": Field("money", cf.txn_amount_fen_90),
    "txn_amount_365": Field("money", cf.txn_amount_fen_365),
    "digital_share_pct": Field("int", cf.digital_share_pct),
    "risk_level": Field("risk", cf.risk_level, ("C1", "C2", "C3", "C4", "C5")),
    "risk_expires_at": Field("time", cf.risk_expires_at),
    "tenure_days": Field("tenure", cf.registered_at),
    "points_balance": Field("int", cf.points_balance),
    "nps_latest": Field("int", cf.nps_latest),
    "is_marketing_contactable": Field("bool", cf.is_marketing_contactable),
    "customer_type_class": Field("enum", cf.class_customer_type, CLASSES["customer_type"]),
    "region_class": Field("enum", cf.class_region, CLASSES["region"]),
    "asset_size_class": Field("enum", cf.class_asset_size, CLASSES["asset_size"]),
    "behaviour_class": Field("enum", cf.class_behaviour, CLASSES["behaviour"]),
}


class _Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, loc: list, msg: str, kind: str) -> None:
        self.items.append({"loc": loc, "msg": msg, "type": kind})


def _scalar(field: Field, value: Any, loc: list, errors: _Errors) -> Any:
    """The bound value for one operand, or None after recording an error."""
    kind = field.kind
    if kind in ("int", "tenure"):
        limit = 100_000 if kind == "tenure" else 2**53
        if isinstance(value, bool) or not isinstance(value, int) or not -limit <= value <= limit:
            errors.add(loc, f"must be an integer between {-limit} and {limit}", "int_type")
            return None
        return value
    if kind == "money":
        if not isinstance(value, str) or len(value) > 24:
            errors.add(loc, 'must be an amount such as "12345.67"', "money_type")
            return None
        try:
            fen = str_to_fen(value)
        except (ValueError, ArithmeticError):
            errors.add(loc, 'must be an amount such as "12345.67"', "money_type")
            return None
        return fen if abs(fen) < 2**62 else errors.add(loc, "amount out of range", "money_type")
    if kind == "time":
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None
            if parsed is not None and parsed.tzinfo is not None:
                parsed = parsed.astimezone(UTC)  # year 1 at +14:00 has no UTC equivalent
        except (ValueError, OverflowError):
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            errors.add(loc, "must be an RFC 3339 time with a zone", "datetime_type")
            return None
        return parsed
    if kind == "bool":
        return value if isinstance(value, bool) else errors.add(loc, "must be true or false", "bool_type")
    if kind in ("enum", "risk"):
        if value not in field.choices or not isinstance(value, str):
            errors.add(loc, f"must be one of {', '.join(field.choices)}", "enum")
            return None
        return value
    if not isinstance(value, str) or not 1 <= len(value) <= 100:
        errors.add(loc, "must be a string of 1-100 characters", "string_type")
        return None
    return value


def _cutoff(k: int, now: datetime):
    """now - k days as a named bound parameter, so a compiled rule can be executed again at another
    time (see clock_params) instead of being compiled again."""
    name = f"{TENURE_PREFIX}{k}" if k >= 0 else f"{TENURE_PREFIX}m{-k}"
    return bindparam(name, now - timedelta(days=k), type_=UTCDateTime())


def clock_params(expr: Any, now: datetime) -> dict[str, datetime]:
    """The values of every time-dependent parameter in a compiled rule (or a statement holding one) at `now`."""
    keys = {b.key for b in visitors.iterate(expr) if isinstance(b, BindParameter) and b.key.startswith(TENURE_PREFIX)}
    days = {k: k.removeprefix(TENURE_PREFIX) for k in keys}
    return {k: now - timedelta(days=-int(n[1:]) if n.startswith("m") else int(n)) for k, n in days.items()}


def _tenure(op: str, n: int, now: datetime) -> ColumnElement[bool]:
    """tenure_days >= n exactly when registered_at <= now - n days; the rest follows."""
    col = cf.registered_at

    def at_least(k: int):
        return col <= _cutoff(k, now)

    def below(k: int):
        return col > _cutoff(k, now)

    return {
        "gte": lambda: at_least(n),
        "gt": lambda: at_least(n + 1),
        "lt": lambda: below(n),
        "lte": lambda: below(n + 1),
        "eq": lambda: and_(at_least(n), below(n + 1)),
        "ne": lambda: or_(below(n), at_least(n + 1)),
    }[op]()


def _compare(field: Field, op: str, value: Any, now: datetime) -> ColumnElement[bool]:
    if field.kind == "tenure":
        return _tenure(op, value, now)
    col = field.column
    return {
        "eq": lambda: col == value,
        "ne": lambda: col.is_distinct_from(value),
        "gt": lambda: col > value,
        "gte": lambda: col >= value,
        "lt": lambda: col < value,
        "lte": lambda: col <= value,
    }[op]()


def _condition(node: dict, loc: list, errors: _Errors, now: datetime) -> ColumnElement[bool] | None:
    extra = set(node) - {"field", "op", "value"}
    for key in sorted(extra):
        errors.add([*loc, key], "unknown key in a condition", "extra_forbidden")
    name, op = node.get("field"), node.get("op")
    field = FIELDS.get(name) if isinstance(name, str) else None
    if field is None:
        errors.add([*loc, "field"], f"unknown field; one of {', '.join(FIELDS)}", "field_unknown")
    if op not in OPS:
        errors.add([*loc, "op"], f"must be one of {', '.join(OPS)}", "op_unknown")
    if field is None or op not in OPS or extra:
        return None
    value = node.get("value")
    vloc = [*loc, "value"]
    if op == "is_null":
        if "value" in node and not isinstance(value, bool):
            errors.add(vloc, "must be true or false", "bool_type")
            return None
        column = field.column
        return column.is_(None) if value in (None, True) else column.is_not(None)
    if "value" not in node:
        errors.add(vloc, "a value is required", "missing")
        return None
    if op in ("gt", "gte", "lt", "lte", "between") and field.kind not in ORDERED_KINDS:
        errors.add([*loc, "op"], f"{name} cannot be compared with {op}", "op_not_for_field")
        return None
    if op == "in":
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_IN:
            errors.add(vloc, f"must be a list of 1-{MAX_IN} values", "list_type")
            return None
        values = [_scalar(field, v, [*vloc, i], errors) for i, v in enumerate(value)]
        if any(v is None for v in values):
            return None
        if field.kind == "tenure":
            return or_(*(_tenure("eq", v, now) for v in values))
        return field.column.in_(values)
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            errors.add(vloc, "must be [low, high]", "list_type")
            return None
        low, high = (_scalar(field, v, [*vloc, i], errors) for i, v in enumerate(value))
        if low is None or high is None:
            return None
        if low > high:
            errors.add(vloc, "low must not be above high", "range_invalid")
            return None
        return and_(_compare(field, "gte", low, now), _compare(field, "lte", high, now))
    bound = _scalar(field, value, vloc, errors)
    return None if bound is None else _compare(field, op, bound, now)


def _node(node: Any, loc: list, errors: _Errors, now: datetime, budget: list[int]) -> ColumnElement[bool] | None:
    budget[0] -= 1
    if budget[0] < 0:
        if budget[0] == -1:
            errors.add(loc, f"a rule has at most {MAX_NODES} nodes", "rule_too_large")
        return None
    if sum(1 for part in loc if part in ("all", "any", "not")) > MAX_DEPTH:
        errors.add(loc, f"a rule nests at most {MAX_DEPTH} levels", "rule_too_deep")
        return None
    if not isinstance(node, dict):
        errors.add(loc, "a rule node must be an object", "dict_type")
        return None
    groups = [k for k in ("all", "any", "not") if k in node]
    if not groups:
        return _condition(node, loc, errors, now)
    if len(node) != 1:
        errors.add(loc, "a group node has exactly one key: all, any or not", "group_invalid")
        return None
    key = groups[0]
    if key == "not":
        inner = _node(node["not"], [*loc, "not"], errors, now, budget)
        return None if inner is None else not_(inner)
    children = node[key]
    if not isinstance(children, list) or not children:
        errors.add([*loc, key], "must be a non-empty list of rule nodes", "list_type")
        return None
    parts = [_node(child, [*loc, key, i], errors, now, budget) for i, child in enumerate(children)]
    if any(p is None for p in parts):
        return None
    return and_(true(), *parts) if key == "all" else or_(false(), *parts)


def compile_rule(rule: Any, *, now: datetime, loc: tuple = ("body", "rule")) -> ColumnElement[bool]:
    """The rule as one boolean expression over customer_feature; InvalidInput (422) naming the node
    of every problem otherwise."""
    errors = _Errors()
    expr = _node(rule, list(loc), errors, now, [MAX_NODES])
    if errors.items or expr is None:
        raise InvalidInput(
            errors.items or [{"loc": list(loc), "msg": "invalid rule", "type": "rule_invalid"}], code="rule_invalid"
        )
    return expr


RuleCompiler = Callable[[Any, datetime], ColumnElement[bool]]
