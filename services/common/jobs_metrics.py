"""What every scheduled job exports, read from job_run at scrape time (so every replica says the same):
suite_job_last_success_timestamp_seconds, suite_job_deadline_timestamp_seconds (a success is due by
then: the alert SuiteJobMissedWindow fires past it), suite_job_last_duration_seconds and
suite_job_failures_total, each labelled by `task` (the job's name)."""

from collections.abc import Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.common.jobs import JobRunner


class JobCollector(Collector):
    def __init__(self, runner: JobRunner):
        self.runner = runner

    def collect(self) -> Iterable[Metric]:
        success = GaugeMetricFamily(
            "suite_job_last_success_timestamp_seconds", "When the job last succeeded (0: never)", labels=["task"]
        )
        deadline = GaugeMetricFamily(
            "suite_job_deadline_timestamp_seconds",
            "By when the job's next success is due (its next window plus its grace)",
            labels=["task"],
        )
        duration = GaugeMetricFamily(
            "suite_job_last_duration_seconds", "How long the job's last successful run took", labels=["task"]
        )
        failures = CounterMetricFamily("suite_job_failures", "Failed runs of the job", labels=["task"])
        for st in self.runner.states():
            success.add_metric([st.name], st.succeeded_at.timestamp() if st.succeeded_at else 0.0)
            deadline.add_metric([st.name], st.deadline.timestamp())
            if st.duration_seconds is not None:
                duration.add_metric([st.name], st.duration_seconds)
            failures.add_metric([st.name], st.failures)
        return [success, deadline, duration, failures]

    def describe(self) -> Iterable[Metric]:
        return []  # read at scrape time only


def install_job_metrics(registry: CollectorRegistry, runner: JobRunner | None) -> None:
    if runner is not None and runner.jobs:
        registry.register(JobCollector(runner))
