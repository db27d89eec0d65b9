"""Rule segments: preview, create, update as a new version, list, versions, members and targeted
contact lists; members of a built-in class."""

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Row, exc, func, insert, literal, select, update

from services.common.branch_scope import in_reach
from services.common.db import Database, is_unique_violation, rows_affected
from services.common.errors import Conflict, InvalidInput, PreconditionFailed
from services.common.etag import check_version
from services.common.idempotency import IdempotencyRequest, StoredResponse, find_stored, store_response
from services.common.pagination import decode_cursor, page_of
from services.segmentation.models import (
    CLASSES,
    idempotency,
    segment,
    segment_member,
    segment_version,
)
from services.segmentation.service.context import SAMPLE_SIZE, Context, cf, segment_not_found
from services.segmentation.service.rules import compile_rule
from services.segmentation.service.segment_refresh import refresh_rule_segment


def preview_segment(ctx: Context, *, rule: Any, reach: set[str] | None = None) -> tuple[int, list[str]]:
    """How many customers a rule selects now, and a sample of their ids (nothing is saved), among the
    customers of the branches in `reach` (None: every branch)."""
    expr = compile_rule(rule, now=ctx.clock())
    where = (cf.c.type.is_not(None), expr, in_reach(cf.c.branch_code, reach))
    with ctx.db.read() as s:
        count = s.execute(select(func.count()).select_from(cf).where(*where)).scalar_one()
        sample = s.execute(select(cf.c.customer_id).where(*where).order_by(cf.c.customer_id).limit(SAMPLE_SIZE))
        return count, list(sample.scalars())


def get_segment(db: Database, *, segment_id: str) -> Row | None:
    return db.first_row(select(segment).where(segment.c.id == segment_id))


def require_segment(db: Database, *, segment_id: str) -> Row:
    row = get_segment(db, segment_id=segment_id)
    if row is None:
        raise segment_not_found(segment_id)
    return row


def _name_taken(name: str) -> Conflict:
    return Conflict(f"A segment named {name!r} exists already", code="segment_name_taken")


def create_segment(
    ctx: Context,
    *,
    name: str,
    description: str,
    rule: Any,
    actor: str,
    idem: IdempotencyRequest | None = None,
    present: Callable[[Row], dict[str, Any]] | None = None,
) -> Row | StoredResponse:
    """Saves version 1 and fills the members in the same transaction (segment.changed for each).
    With an Idempotency-Key, `present(row)` is stored as the 201 body in that same transaction and a
    replay returns it (StoredResponse); the same key with another body is 409 idempotency_key_reused."""
    now = ctx.clock()
    compile_rule(rule, now=now)  # a bad rule is a 422 before anything is written
    seg_id = str(uuid.uuid4())
    with ctx.db.write() as s:
        if idem and (stored := find_stored(s, idempotency, idem)):
            return stored
        if s.execute(select(segment.c.id).where(segment.c.name == name)).first():
            raise _name_taken(name)
        try:  # a concurrent create of the same name or key loses here (PostgreSQL) or at commit (SQLite)
            s.execute(
                insert(segment).values(
                    id=seg_id,
                    name=name,
                    description=description,
                    rule=rule,
                    version=1,
                    created_by=actor,
                    created_at=now,
                    updated_at=now,
                )
            )
            s.execute(
                insert(segment_version).values(
                    segment_id=seg_id, version=1, name=name, rule=rule, created_by=actor, created_at=now
                )
            )
            refresh_rule_segment(s, segment_id=seg_id, version=1, rule=rule, now=now)
            if idem and present is not None:
                store_response(
                    s, idempotency, idem, 201, present(s.execute(select(segment).where(segment.c.id == seg_id)).one())
                )
            s.commit()
            lost_race = False
        except exc.IntegrityError as err:
            if not is_unique_violation(err):
                raise
            lost_race = True
    if lost_race:
        if stored := stored_after_race(ctx.db, idem):
            return stored
        raise _name_taken(name)
    return require_segment(ctx.db, segment_id=seg_id)


def stored_after_race(db: Database, idem: IdempotencyRequest | None) -> StoredResponse | None:
    """After a unique violation: if a concurrent request with the same Idempotency-Key won, its
    response (or 409 idempotency_key_reused if its body differed); None if the clash was elsewhere."""
    if idem is None:
        return None
    with db.read() as s:
        return find_stored(s, idempotency, idem)


def update_segment(
    ctx: Context, *, segment_id: str, changes: dict[str, Any], expected_version: int | None, actor: str
) -> Row:
    """A new version (name, description and/or rule); members follow the new rule at once."""
    now = ctx.clock()
    with ctx.db.write() as s:
        current = s.execute(select(segment).where(segment.c.id == segment_id)).first()
        if current is None:
            raise segment_not_found(segment_id)
        check_version(current.version, expected_version)
        if not changes:
            return current
        rule = changes.get("rule", current.rule)
        compile_rule(rule, now=now)
        name = changes.get("name", current.name)
        if name != current.name and s.execute(select(segment.c.id).where(segment.c.name == name)).first():
            raise _name_taken(name)
        version = current.version + 1
        try:
            moved = rows_affected(
                s.execute(
                    update(segment)
                    .where(segment.c.id == segment_id, segment.c.version == current.version)
                    .values(**changes, version=version, updated_at=now)
                )
            )
            if moved != 1:  # another writer got there first
                raise PreconditionFailed("The segment changed meanwhile; read it again")
            s.execute(
                insert(segment_version).values(
                    segment_id=segment_id, version=version, name=name, rule=rule, created_by=actor, created_at=now
                )
            )
            if "rule" in changes:
                refresh_rule_segment(s, segment_id=segment_id, version=version, rule=rule, now=now)
            s.commit()
        except exc.IntegrityError as err:
            if is_unique_violation(err):
                raise _name_taken(name) from None
            raise
    return require_segment(ctx.db, segment_id=segment_id)


def list_segments(db: Database, *, limit: int, cursor: str | None) -> tuple[list[Row], str | None]:
    after = decode_cursor(cursor, (str,))
    stmt = select(segment).order_by(segment.c.name).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(segment.c.name > after[0])
    with db.read() as s:
        rows = s.execute(stmt).all()
    return page_of(rows, limit, lambda r: [r.name])


def list_segment_versions(db: Database, *, segment_id: str) -> Sequence[Row]:
    require_segment(db, segment_id=segment_id)
    with db.read() as s:
        v = segment_version.c
        return s.execute(select(segment_version).where(v.segment_id == segment_id).order_by(v.version.desc())).all()


MEMBER_COLUMNS = (
    cf.c.customer_id,
    cf.c.customer_no,
    cf.c.branch_code,
    cf.c.class_customer_type,
    cf.c.class_region,
    cf.c.class_asset_size,
    cf.c.class_behaviour,
    cf.c.aum_fen,
)


def _members_page(db: Database, where: list, limit: int, cursor: str | None) -> tuple[list[Row], str | None]:
    after = decode_cursor(cursor, (str,))
    stmt = select(*MEMBER_COLUMNS).where(*where).order_by(cf.c.customer_id).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(cf.c.customer_id > after[0])
    with db.read() as s:
        rows = s.execute(stmt).all()
    return page_of(rows, limit, lambda r: [r.customer_id])


def _in_segment(segment_id: str):
    sm = segment_member.c
    return cf.c.customer_id.in_(select(sm.customer_id).where(sm.segment_id == segment_id))


def list_segment_members(
    db: Database, *, segment_id: str, limit: int, cursor: str | None, reach: set[str] | None = None
):
    """The segment's members of the branches in `reach` (None: every branch)."""
    require_segment(db, segment_id=segment_id)
    return _members_page(db, [_in_segment(segment_id), in_reach(cf.c.branch_code, reach)], limit, cursor)


def list_class_members(
    db: Database, *, scheme: str, class_: str, limit: int, cursor: str | None, reach: set[str] | None = None
):
    if class_ not in CLASSES[scheme]:
        raise InvalidInput(
            [
                {
                    "loc": ["path", "class_"],
                    "msg": f"not a class of {scheme}: one of {', '.join(CLASSES[scheme])}",
                    "type": "enum",
                }
            ]
        )
    return _members_page(db, [cf.c[f"class_{scheme}"] == class_, in_reach(cf.c.branch_code, reach)], limit, cursor)


def list_targets(
    db: Database,
    *,
    segment_id: str,
    channel: str | None,
    limit: int,
    cursor: str | None,
    reach: set[str] | None = None,
):
    """Members who may be contacted for marketing now (consent from the profile feed), optionally on
    one channel, of the branches in `reach` (None: every branch)."""
    require_segment(db, segment_id=segment_id)
    where = [
        _in_segment(segment_id),
        cf.c.is_marketing_contactable.is_(True),
        cf.c.status == "active",
        in_reach(cf.c.branch_code, reach),
    ]
    if channel is not None:
        where.append((literal(",") + cf.c.contactable_channels + literal(",")).contains(f",{channel},"))
    return _members_page(db, where, limit, cursor)
