"""Scheduled jobs: one run per window across replicas (a compare-and-set on job_run, both databases),
failures counted, a dead runner's window taken over after its grace, a new installation starting with
the next window, the deadline the missed-window alert reads, and the CLI a CronJob calls."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import MetaData, select

from services.common.jobs import Job, JobRunner, Schedule, job_run_table
from services.common.jobs_metrics import install_job_metrics
from tests import dbkit
from tests.clock import ManualClock
from tests.e2e.conftest import ROOT, base_env, migrate_service

T0 = datetime(2026, 12, 5, 10, 0, 0, tzinfo=UTC)  # 18:00 in Shanghai


def test_schedule_cron_is_read_in_the_zone():
    nightly = Schedule("30 1 * * *", "Asia/Shanghai")  # 01:30 Shanghai is 17:30 UTC the day before
    assert nightly.due_at(T0) == datetime(2026, 12, 4, 17, 30, tzinfo=UTC)
    assert nightly.next_after(T0) == datetime(2026, 12, 5, 17, 30, tzinfo=UTC)
    assert nightly.due_at(datetime(2026, 12, 5, 17, 30, tzinfo=UTC)) == datetime(2026, 12, 5, 17, 30, tzinfo=UTC)


def test_schedule_every_seconds_is_anchored():
    every = Schedule("every 300s")
    assert every.due_at(T0 + timedelta(seconds=299)) == T0
    assert every.next_after(T0 + timedelta(seconds=1)) == T0 + timedelta(seconds=300)


@pytest.mark.parametrize("spec", ["every 0s", "every 5m", "61 * * * *", "* * * *", "daily"])
def test_schedule_refuses_what_it_cannot_read(spec):
    with pytest.raises(ValueError, match="schedule"):
        Schedule(spec)


class Work:
    def __init__(self) -> None:
        self.runs = 0
        self.fail = False

    def __call__(self) -> str:
        self.runs += 1
        if self.fail:
            raise RuntimeError("the work broke")
        return "done"


@pytest.fixture
def jobs(fresh_db):
    md = MetaData()
    table = job_run_table(md)
    md.create_all(fresh_db.engine)
    clock = ManualClock(T0)
    work = Work()
    job = Job("hourly", Schedule("0 * * * *"), work, timedelta(minutes=20))

    def replica(name: str) -> JobRunner:
        return JobRunner(fresh_db, table, [job], clock, name)

    return replica, clock, work, table, fresh_db


def test_a_window_runs_once_across_replicas(jobs):
    replica, clock, work, _, _ = jobs
    a, b = replica("a"), replica("b")
    a.install()
    assert a.tick() == [] and b.tick() == [] and work.runs == 0  # installed now: the past window is not run
    clock.advance(hours=1)
    assert a.tick() == ["hourly"] and b.tick() == [] and a.tick() == []
    assert work.runs == 1
    clock.advance(hours=1)
    assert b.tick() == ["hourly"] and a.tick() == [] and work.runs == 2


def test_a_failure_is_counted_and_the_next_window_runs_again(jobs):
    replica, clock, work, _, _ = jobs
    runner = replica("a")
    runner.install()
    work.fail = True
    clock.advance(hours=1)
    assert runner.tick() == [] and work.runs == 1
    [state] = runner.states()
    assert state.failures == 1 and state.succeeded_at is None
    work.fail = False
    clock.advance(hours=1)
    assert runner.tick() == ["hourly"]
    [state] = runner.states()
    assert state.failures == 1 and state.succeeded_at == clock.now


def test_a_dead_runners_window_is_taken_over_after_its_grace(jobs):
    replica, clock, work, table, db = jobs
    a, b = replica("a"), replica("b")
    a.install()
    clock.advance(hours=1, minutes=1)
    assert a._claim(a.jobs[0], force=False)  # `a` claims the window, then dies before running it
    assert b.tick() == []  # within the grace: still a's
    clock.advance(minutes=21)
    assert b.tick() == ["hourly"] and work.runs == 1
    with db.read() as s:
        assert s.execute(select(table.c.holder)).scalar_one() == "b"


def test_deadline_is_the_next_window_after_the_last_success_plus_grace(jobs):
    replica, clock, _, _, _ = jobs
    runner = replica("a")
    runner.install()
    [state] = runner.states()
    assert state.deadline == datetime(2026, 12, 5, 11, 20, tzinfo=UTC)
    clock.advance(hours=3)  # two windows passed without a run: the deadline stays where it was
    [state] = runner.states()
    assert state.deadline < clock.now
    runner.tick()
    [state] = runner.states()
    assert state.deadline == datetime(2026, 12, 5, 14, 20, tzinfo=UTC)


def test_metrics_are_read_from_the_table(jobs):
    replica, clock, _, _, _ = jobs
    runner = replica("a")
    runner.install()
    clock.advance(hours=1)
    runner.tick()
    registry = CollectorRegistry(auto_describe=True)
    install_job_metrics(registry, replica("b"))  # another replica reports the same
    lines = [ln.rsplit(" ", 1) for ln in generate_latest(registry).decode().splitlines() if not ln.startswith("#")]
    values = {name: float(value) for name, value in lines}
    assert values['suite_job_last_success_timestamp_seconds{task="hourly"}'] == clock.now.timestamp()
    deadline = datetime(2026, 12, 5, 12, 20, tzinfo=UTC).timestamp()
    assert values['suite_job_deadline_timestamp_seconds{task="hourly"}'] == deadline
    assert values['suite_job_failures_total{task="hourly"}'] == 0
    assert values['suite_job_last_duration_seconds{task="hourly"}'] >= 0


def test_force_runs_a_window_already_run(jobs):
    replica, clock, work, _, _ = jobs
    runner = replica("a")
    runner.install()
    assert runner.run_now("hourly") is False and work.runs == 0
    assert runner.run_now("hourly", force=True) is True and work.runs == 1
    with pytest.raises(KeyError, match="no job 'weekly'"):
        runner.run_now("weekly")


def test_cli_lists_and_runs_a_services_jobs(tmp_path):
    url = dbkit.sqlite_url(tmp_path / "loyalty.db")
    migrate_service("loyalty", url)
    env = base_env(LOYALTY_DATABASE_URL=url, LOYALTY_ENVIRONMENT="test")

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "services.loyalty.tools.jobs", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == [
        "points_expiry",
        "ledger_check",
        "care_reminders",
        "approvals_expiry",
        "month_partitions",
    ]
    assert cli("run", "ledger_check").stdout.strip() == "ledger_check: window already taken"
    forced = cli("run", "ledger_check", "--force")
    assert forced.returncode == 0 and forced.stdout.strip() == "ledger_check: done"
    unknown = cli("run", "weekly")
    assert unknown.returncode == 2 and "no job 'weekly'" in unknown.stderr
