"""Segmentation domain: recompute jobs, rule segments (preview, versions, members, targeted lists),
customers' memberships and history. Products, recommendations and analysis are in catalogue.py."""

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, exc, func, insert, literal, select, update
from sqlalchemy.orm import Session

from services.common.db import Database, is_unique_violation
from services.common.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from services.common.etag import check_version
from services.common.idempotency import IdempotencyRequest, StoredResponse, find_stored, store_response
from services.common.pagination import decode_cursor, page_of
from services.segmentation.activity import prune_activity
from services.segmentation.classify import classify, refresh_windows
from services.segmentation.config import SegmentationSettings
from services.segmentation.models import (
    CLASSES,
    SCHEMES,
    customer_feature,
    idempotency,
    membership_change,
    recompute_job,
    segment,
    segment_member,
    segment_version,
)
from services.segmentation.rules import compile_rule
from services.segmentation.segment_refresh import refresh_rule_segment

log = logging.getLogger("segmentation")
cf = customer_feature
Clock = Callable[[], datetime]
SAMPLE_SIZE = 20


@dataclass(frozen=True)
class Context:
    db: Database
    settings: SegmentationSettings
    clock: Clock
    on_recompute: Callable[[str, float, int], None] | None = None  # (status, seconds, changes), for metrics
    on_step: Callable[[str, float], None] | None = None  # (step, seconds) of each recompute step, for metrics


def customer_not_found(customer_id: Any) -> NotFound:
    return NotFound(f"No features for customer {customer_id}", code="customer_not_found")


def segment_not_found(segment_id: Any) -> NotFound:
    return NotFound(f"No segment {segment_id}", code="segment_not_found")


# --- recompute jobs ---------------------------------------------------------------------------


def get_job(db: Database, *, job_id: str) -> Row | None:
    return db.first_row(select(recompute_job).where(recompute_job.c.id == job_id))


def require_job(db: Database, *, job_id: str) -> Row:
    job = get_job(db, job_id=job_id)
    if job is None:
        raise NotFound(f"No recompute job {job_id}", code="recompute_not_found")
    return job


WINDOWS_MOVED = "moved"
WINDOWS_ALL = "all"
# A daily job looks back to the previous successful one; past this gap re-deriving everyone is as cheap.
MOVED_MAX_DAYS = 31


def start_recompute(ctx: Context, *, actor: str, windows: str = WINDOWS_MOVED) -> tuple[Row, bool]:
    """The queued or running job if there is one (False), else a new queued job (True). The unique
    `running_slot` is the lock: two concurrent starts cannot both create a job."""
    with ctx.db.write() as s:
        now = ctx.clock()
        running = s.execute(select(recompute_job).where(recompute_job.c.running_slot == 1)).first()
        stale_before = now - timedelta(minutes=ctx.settings.recompute_stale_minutes)
        if running is not None and running.heartbeat_at >= stale_before:
            return running, False
        if running is not None:  # its process died: free the slot so recomputes are not blocked forever
            s.execute(
                update(recompute_job)
                .where(recompute_job.c.id == running.id)
                .values(status="failed", phase="failed", running_slot=None, error="abandoned", finished_at=now)
            )
        steps = 2 + s.execute(select(func.count()).select_from(segment)).scalar_one()
        job_id = str(uuid.uuid4())
        try:  # PostgreSQL reports the losing insert at once, SQLite at commit
            s.execute(
                insert(recompute_job).values(
                    id=job_id,
                    status="queued",
                    running_slot=1,
                    phase="queued",
                    steps_done=0,
                    steps_total=steps,
                    changed=0,
                    requested_by=actor,
                    created_at=now,
                    heartbeat_at=now,
                    windows=windows,
                )
            )
            s.commit()
        except exc.IntegrityError as err:
            if not is_unique_violation(err):
                raise
            s.rollback()
            return s.execute(select(recompute_job).where(recompute_job.c.running_slot == 1)).one(), False
    return require_job(ctx.db, job_id=job_id), True


def _job_progress(ctx: Context, job_id: str, **values) -> None:
    with ctx.db.write() as s:
        s.execute(update(recompute_job).where(recompute_job.c.id == job_id).values(**values, heartbeat_at=ctx.clock()))
        s.commit()


_LAST_SUCCESS = select(func.max(recompute_job.c.started_at)).where(recompute_job.c.status == "succeeded")


def moved_since(s: Session, today: date) -> date | None:
    """The day of the latest successful recompute, when a daily job can start from it: not after
    today (a clock set back re-derives everyone) and at most MOVED_MAX_DAYS before."""
    last = s.execute(_LAST_SUCCESS).scalar_one()
    if last is None or not timedelta(0) <= today - last.date() <= timedelta(days=MOVED_MAX_DAYS):
        return None
    return last.date()


@contextmanager
def _timed(ctx: Context, step: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    if ctx.on_step is not None:
        ctx.on_step(step, time.perf_counter() - started)


def run_recompute(ctx: Context, *, job_id: str) -> None:
    """Full recompute, set-based: the windows, the prune of old daily rows and the built-in classes in
    one transaction, then each rule segment in its own; the job row updated between them. Never
    raises: a failure marks the job failed."""
    db, now = ctx.db, ctx.clock()
    changed, started, status = 0, time.perf_counter(), "failed"
    try:
        with db.read() as s:
            asked = s.execute(select(recompute_job.c.windows).where(recompute_job.c.id == job_id)).scalar_one()
            since = moved_since(s, now.date()) if asked == WINDOWS_MOVED else None
        windows = WINDOWS_ALL if since is None else WINDOWS_MOVED
        _job_progress(
            ctx, job_id, status="running", phase="features", started_at=now, windows=windows, windows_since=since
        )
        with db.write() as s:
            with _timed(ctx, "windows"):
                refresh_windows(s, now=now, moved_since=since)
            with _timed(ctx, "prune"):
                prune_activity(s, now=now)
            with _timed(ctx, "classes"):
                changed += classify(s, settings=ctx.settings, now=now)
            with _timed(ctx, "commit"):
                s.commit()
        with db.read() as s:
            segments = s.execute(select(segment.c.id, segment.c.version, segment.c.rule).order_by(segment.c.id)).all()
        for i, (seg_id, version, rule) in enumerate(segments):
            _job_progress(ctx, job_id, phase="segments", steps_done=2 + i, changed=changed)
            with _timed(ctx, "segment"), db.write() as s:
                changed += refresh_rule_segment(s, segment_id=seg_id, version=version, rule=rule, now=now)
                s.commit()
        _job_progress(
            ctx,
            job_id,
            status="succeeded",
            phase="done",
            running_slot=None,
            changed=changed,
            steps_done=2 + len(segments),
            steps_total=2 + len(segments),
            finished_at=ctx.clock(),
        )
        status = "succeeded"
    except Exception as err:  # noqa: BLE001 - the job records the failure; the service keeps running
        log.exception("recompute failed", extra={"fields": {"job_id": job_id}})
        _job_progress(
            ctx,
            job_id,
            status="failed",
            phase="failed",
            running_slot=None,
            changed=changed,
            error=type(err).__name__,
            finished_at=ctx.clock(),
        )
    if ctx.on_recompute is not None:
        ctx.on_recompute(status, time.perf_counter() - started, changed)


def list_jobs(db: Database, *, limit: int, cursor: str | None) -> tuple[list[Row], str | None]:
    after = decode_cursor(cursor, (str, str))
    t = recompute_job.c
    stmt = select(recompute_job).order_by(t.created_at.desc(), t.id.desc()).limit(limit + 1)
    if after is not None:
        try:
            at = datetime.fromisoformat(after[0])
        except ValueError:
            raise InvalidInput(
                [{"loc": ["query", "cursor"], "msg": "not a cursor this API issued", "type": "cursor_invalid"}]
            ) from None
        stmt = stmt.where((t.created_at < at) | ((t.created_at == at) & (t.id < after[1])))
    with db.read() as s:
        rows = s.execute(stmt).all()
    return page_of(rows, limit, lambda r: [r.created_at.isoformat(), r.id])


# --- rule segments ------------------------------------------------------------------------------


def preview_segment(ctx: Context, *, rule: Any) -> tuple[int, list[str]]:
    """How many customers a rule selects now, and a sample of their ids (nothing is saved)."""
    expr = compile_rule(rule, now=ctx.clock())
    where = (cf.c.type.is_not(None), expr)
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
            moved = s.execute(
                update(segment)
                .where(segment.c.id == segment_id, segment.c.version == current.version)
                .values(**changes, version=version, updated_at=now)
            ).rowcount
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


def list_segment_versions(db: Database, *, segment_id: str) -> list[Row]:
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


def list_segment_members(db: Database, *, segment_id: str, limit: int, cursor: str | None):
    require_segment(db, segment_id=segment_id)
    return _members_page(db, [_in_segment(segment_id)], limit, cursor)


def list_class_members(db: Database, *, scheme: str, class_: str, limit: int, cursor: str | None):
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
    return _members_page(db, [cf.c[f"class_{scheme}"] == class_], limit, cursor)


def list_targets(db: Database, *, segment_id: str, channel: str | None, limit: int, cursor: str | None):
    """Members who may be contacted for marketing now (consent from the profile feed), optionally on
    one channel."""
    require_segment(db, segment_id=segment_id)
    where = [_in_segment(segment_id), cf.c.is_marketing_contactable.is_(True), cf.c.status == "active"]
    if channel is not None:
        where.append((literal(",") + cf.c.contactable_channels + literal(",")).contains(f",{channel},"))
    return _members_page(db, where, limit, cursor)


# --- memberships --------------------------------------------------------------------------------


def require_features(db: Database, *, customer_id: str) -> Row:
    row = db.first_row(select(cf).where(cf.c.customer_id == customer_id))
    if row is None:
        raise customer_not_found(customer_id)
    return row


def customer_segments(db: Database, *, customer_id: str) -> list[Row]:
    sm = segment_member.c
    with db.read() as s:
        return s.execute(
            select(segment.c.id, segment.c.name, sm.since)
            .join(segment, segment.c.id == sm.segment_id)
            .where(sm.customer_id == customer_id)
            .order_by(segment.c.name)
        ).all()


def list_history(db: Database, *, customer_id: str, limit: int, cursor: str | None) -> tuple[list[Row], str | None]:
    require_features(db, customer_id=customer_id)
    after = decode_cursor(cursor, (int,))
    mc = membership_change.c
    stmt = select(membership_change).where(mc.customer_id == customer_id).order_by(mc.id.desc()).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(mc.id < after[0])
    with db.read() as s:
        rows = s.execute(stmt).all()
    return page_of(rows, limit, lambda r: [r.id])


__all__ = ["SCHEMES", "Context", "Session"]
