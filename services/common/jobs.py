"""Scheduled jobs (the daily recompute, points expiry, the ledger check, the overdue sweep): each runs
once per window of its schedule across all replicas, in the service's own process or from a
Kubernetes CronJob (`python -m services.<name>.tools.jobs run <job>`), whichever claims the window
first. The claim is a compare-and-set on the job's row in `job_run` (both databases, no lock held
while the job runs); a claim whose runner died is taken over once `grace` has passed.

Schedules: cron notation ("30 1 * * *", read in the suite's zone) or "every <N>s". A new installation
starts with the next window: nothing runs for windows that passed before the job's row existed."""

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import Column, Float, Integer, MetaData, Row, String, Table, select, update

from services.common.db import Database, UTCDateTime, rows_affected, upsert_insert

log = logging.getLogger("jobs")


def job_run_table(metadata: MetaData) -> Table:
    return Table(
        "job_run",
        metadata,
        Column("name", String(64), primary_key=True),
        Column("installed_window_at", UTCDateTime(), nullable=False),  # the window current when the row was made
        Column("window_at", UTCDateTime(), nullable=False),  # the scheduled time last claimed
        Column("holder", String(120), nullable=False),
        Column("started_at", UTCDateTime(), nullable=True),
        Column("succeeded_at", UTCDateTime(), nullable=True),
        Column("succeeded_window_at", UTCDateTime(), nullable=True),
        Column("duration_seconds", Float(), nullable=True),  # of the last finished run
        Column("failures", Integer(), nullable=False, default=0),
        Column("last_error", String(200), nullable=True),  # the exception's class, never its text
    )


class Schedule:
    """When a job is due: `due_at(now)` is the newest scheduled time at or before now."""

    def __init__(self, spec: str, zone: str = "Asia/Shanghai"):
        self.spec, self.zone = spec.strip(), ZoneInfo(zone)
        if self.spec.startswith("every "):
            amount = self.spec.removeprefix("every ").strip()
            if not (amount.endswith("s") and amount[:-1].isdigit() and int(amount[:-1]) > 0):
                raise ValueError(f"schedule {spec!r}: write 'every <N>s' with N > 0, or cron notation")
            self.interval: int | None = int(amount[:-1])
        else:
            if not croniter.is_valid(self.spec) or len(self.spec.split()) != 5:
                raise ValueError(f"schedule {spec!r} is neither 'every <N>s' nor five cron fields")
            self.interval = None

    def due_at(self, now: datetime) -> datetime:
        if self.interval is not None:
            epoch = int(now.timestamp()) // self.interval * self.interval
            return datetime.fromtimestamp(epoch, UTC)
        local = now.astimezone(self.zone)
        if croniter.match(self.spec, local.replace(second=0, microsecond=0)) and local.second == 0:
            return now.astimezone(UTC)
        due: datetime = croniter(self.spec, local).get_prev(datetime)
        return due.astimezone(UTC)

    def next_after(self, moment: datetime) -> datetime:
        if self.interval is not None:
            return self.due_at(moment) + timedelta(seconds=self.interval)
        following: datetime = croniter(self.spec, moment.astimezone(self.zone)).get_next(datetime)
        return following.astimezone(UTC)


@dataclass(frozen=True)
class Job:
    name: str
    schedule: Schedule
    run: Callable[[], str]  # does the work; returns a short summary for the log (no personal data)
    grace: timedelta  # how long a run may take: past due + grace without a success, the window is missed


@dataclass(frozen=True)
class JobState:
    name: str
    succeeded_at: datetime | None
    deadline: datetime  # a success is expected by then
    duration_seconds: float | None
    failures: int


class JobRunner:
    """Claims and runs a service's jobs; the same object serves the in-process thread, the CLI and tests."""

    def __init__(self, db: Database, table: Table, jobs: Sequence[Job], clock: Callable[[], datetime], holder: str):
        self.db, self.table, self.jobs, self.clock, self.holder = db, table, tuple(jobs), clock, holder
        self._installed = False

    def tick(self) -> list[str]:
        """Runs every job whose current window is unclaimed (or whose runner died); returns their names."""
        return [job.name for job in self.jobs if self._claim(job, force=False) and self._run(job)]

    def run_now(self, name: str, force: bool = False) -> bool:
        """For the CLI: runs the named job if its current window is unclaimed, or at once with `force`.
        Returns whether it ran and succeeded."""
        job = self._job(name)
        return self._claim(job, force=force) and self._run(job)

    def _job(self, name: str) -> Job:
        for job in self.jobs:
            if job.name == name:
                return job
        raise KeyError(f"no job {name!r}; this service has {', '.join(j.name for j in self.jobs)}")

    def install(self) -> None:
        """Gives each job its row if it has none: a new installation starts with the next window."""
        now = self.clock()
        with self.db.write() as s:
            for job in self.jobs:
                due = job.schedule.due_at(now)
                s.execute(
                    upsert_insert(s)(self.table)
                    .values(name=job.name, installed_window_at=due, window_at=due, holder="installed", failures=0)
                    .on_conflict_do_nothing()
                )
            s.commit()
        self._installed = True

    def _claim(self, job: Job, force: bool) -> bool:
        if not self._installed:  # once per runner, not one more write per tick
            self.install()
        now = self.clock()
        due = job.schedule.due_at(now)
        t = self.table
        with self.db.write() as s:
            stale = now - job.grace
            open_window = (t.c.window_at < due) | (
                (t.c.window_at == due)
                & (t.c.started_at < stale)
                & ((t.c.succeeded_window_at.is_(None)) | (t.c.succeeded_window_at < due))
            )
            stmt = update(t).where(t.c.name == job.name)
            if not force:
                stmt = stmt.where(open_window)
            claimed = rows_affected(s.execute(stmt.values(window_at=due, holder=self.holder, started_at=now))) == 1
            s.commit()
        return claimed

    def _run(self, job: Job) -> bool:
        started = time.monotonic()
        t = self.table
        try:
            summary = job.run()
        except Exception as err:  # noqa: BLE001 - recorded and counted; the next window (or a takeover) retries
            with self.db.write() as s:
                s.execute(
                    update(t)
                    .where(t.c.name == job.name)
                    .values(failures=t.c.failures + 1, last_error=type(err).__name__[:200])
                )
                s.commit()
            log.warning("job failed", extra={"fields": {"job": job.name, "error": type(err).__name__}})
            return False
        seconds = time.monotonic() - started
        with self.db.write() as s:
            row = s.execute(select(t.c.window_at).where(t.c.name == job.name)).one()
            s.execute(
                update(t)
                .where(t.c.name == job.name)
                .values(succeeded_at=self.clock(), succeeded_window_at=row.window_at, duration_seconds=seconds)
                .values(last_error=None)
            )
            s.commit()
        log.info("job done", extra={"fields": {"job": job.name, "seconds": round(seconds, 3), "result": summary}})
        return True

    def states(self) -> list[JobState]:
        with self.db.read() as s:
            rows = {r.name: r for r in s.execute(select(self.table)).all()}
        return [self._state(job, rows.get(job.name)) for job in self.jobs]

    def _state(self, job: Job, row: Row[Any] | None) -> JobState:
        if row is None:  # not installed yet: the first window after now
            return JobState(job.name, None, job.schedule.next_after(self.clock()) + job.grace, None, 0)
        since = row.succeeded_window_at or row.installed_window_at
        return JobState(
            job.name, row.succeeded_at, job.schedule.next_after(since) + job.grace, row.duration_seconds, row.failures
        )


def holder_name() -> str:
    """Who claimed a window: host and process, for an operator reading job_run."""
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


class JobThread:
    """Runs JobRunner.tick every `tick_seconds` in a daemon thread for the app's lifetime."""

    def __init__(self, runner: JobRunner, tick_seconds: float = 15.0):
        self.runner, self.tick_seconds = runner, tick_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            try:
                self.runner.tick()
            except Exception as err:  # noqa: BLE001 - the database may be away for a moment; tick again
                log.warning("job tick failed", extra={"fields": {"error": type(err).__name__}})

    def start(self) -> None:
        try:
            self.runner.install()  # now, so that windows passing from here on are run
        except Exception as err:  # noqa: BLE001 - the first tick installs them instead
            log.warning("jobs not installed at start", extra={"fields": {"error": type(err).__name__}})
        self._thread = threading.Thread(target=self._loop, name="jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
