"""Feedback's domain metrics, defined once on the app's registry and read from the database at each scrape
(one read per collector), so they are never stale and need no job to keep them right."""

import logging
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("feedback.metrics")


class ScrapeGauges(Collector):
    """The `size` values `read` returns, made into gauges by `families`; NaN while the database is away."""

    def __init__(
        self, size: int, read: Callable[[], Sequence[int]], families: Callable[[list[float]], list[GaugeMetricFamily]]
    ):
        self.size, self.read, self.families = size, read, families

    def collect(self) -> Iterable[Metric]:
        try:
            values = [float(n) for n in self.read()]
        except Exception as err:  # noqa: BLE001 - a scrape must not fail because the database is away
            log.warning("scrape read failed", extra={"fields": {"error": type(err).__name__}})
            values = [float("nan")] * self.size
        yield from self.families(values)

    def describe(self) -> Iterable[Metric]:
        return []  # read at scrape time only


def install_domain_metrics(
    registry: CollectorRegistry,
    count_deadlines: Callable[[], tuple[int, int]],
    count_improvements: Callable[[], tuple[int, int]],
) -> None:
    registry.register(
        ScrapeGauges(
            2,
            count_deadlines,
            lambda v: [
                GaugeMetricFamily("feedback_complaints_overdue", "Open complaints past their deadline", value=v[0]),
                GaugeMetricFamily(
                    "feedback_complaints_at_risk",
                    "Open complaints close to their deadline (not yet past it)",
                    value=v[1],
                ),
            ],
        )
    )
    registry.register(
        ScrapeGauges(
            2,
            count_improvements,
            lambda v: [
                GaugeMetricFamily(
                    "feedback_improvement_actions_active", "Improvement actions open or in progress", value=v[0]
                ),
                GaugeMetricFamily(
                    "feedback_improvement_actions_overdue",
                    "Improvement actions open or in progress past their due date",
                    value=v[1],
                ),
            ],
        )
    )
