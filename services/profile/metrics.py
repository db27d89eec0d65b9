"""Profile's domain metrics, defined once on the service's own registry."""

import logging
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge

log = logging.getLogger("profile.metrics")


class ProfileMetrics:
    def __init__(self, registry: CollectorRegistry, feed_head: Callable[[], int]):
        """`feed_head` reads the newest position on profile's event feed, at each scrape: with each
        consumer's own position it shows how far every reader of the feed is behind."""
        self.feed_head = Gauge(
            "profile_feed_head_position", "The newest position on profile's event feed", registry=registry
        )

        def _value() -> float:
            try:
                return float(feed_head())
            except Exception as err:  # noqa: BLE001 - a scrape must not fail because the database is away
                log.warning("feed head read failed", extra={"fields": {"error": type(err).__name__}})
                return float("nan")

        self.feed_head.set_function(_value)
