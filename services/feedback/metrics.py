"""Feedback's domain metrics, defined once on the app's registry."""

import logging
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge

log = logging.getLogger("feedback.metrics")


def install_domain_metrics(registry: CollectorRegistry, count_overdue: Callable[[], int]) -> Gauge:
    """feedback_complaints_overdue is computed from the complaints' steps at every scrape, so it is
    never stale and needs no job to keep it right."""
    gauge = Gauge("feedback_complaints_overdue", "Open complaints past their deadline", registry=registry)

    def _value() -> float:
        try:
            return float(count_overdue())
        except Exception as err:  # noqa: BLE001 - a scrape must not fail because the database is away
            log.warning("overdue count failed", extra={"fields": {"error": type(err).__name__}})
            return float("nan")

    gauge.set_function(_value)
    return gauge
