"""Recompute jobs: start one (or return the running one), run it (windows, prune, classes and rule
segments in one transaction), list and read them."""

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta

from sqlalchemy import Row, exc, func, insert, select, update
from sqlalchemy.orm import Session

from services.common.db import Database, is_unique_violation
from services.common.errors import NotFound
from services.common.pagination import cursor_invalid, decode_cursor, page_of
from services.segmentation.models import (
    recompute_job,
    segment,
)
from services.segmentation.service.activity import prune_activity
from services.segmentation.service.classify import classify, lock_classification, refresh_windows
from services.segmentation.service.context import Context, log
from services.segmentation.service.segment_refresh import refresh_rule_segment


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
            lock_classification(s)  # first: the windows must not be read from before a consumer's commit
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
            raise cursor_invalid() from None
        stmt = stmt.where((t.created_at < at) | ((t.created_at == at) & (t.id < after[1])))
    with db.read() as s:
        rows = s.execute(stmt).all()
    return page_of(rows, limit, lambda r: [r.created_at.isoformat(), r.id])
