"""Feedback's domain metrics, defined once on the app's registry."""

import logging
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("feedback.metrics")


class DeadlineCollector(Collector):
    """feedback_complaints_overdue and feedback_complaints_at_risk, computed from the complaints' steps
    at every scrape (one read for both), so they are never stale and need no job to keep them right."""

    def __init__(self, count: Callable[[], tuple[int, int]]):
        self.count = count

    def collect(self) -> Iterable[Metric]:
        try:
            overdue, at_risk = (float(n) for n in self.count())
        except Exception as err:  # noqa: BLE001 - a scrape must not fail because the database is away
            log.warning("deadline count failed", extra={"fields": {"error": type(err).__name__}})
            overdue = at_risk = float("nan")
        yield GaugeMetricFamily("feedback_complaints_overdue", "Open complaints past their deadline", value=overdue)
        yield GaugeMetricFamily(
            "feedback_complaints_at_risk", "Open complaints close to their deadline (not yet past it)", value=at_risk
        )

    def describe(self) -> Iterable[Metric]:
        return []  # read at scrape time only


def install_domain_metrics(registry: CollectorRegistry, count: Callable[[], tuple[int, int]]) -> None:
    registry.register(DeadlineCollector(count))
