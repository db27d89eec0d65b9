"""The metrics every feed consumer exports, whichever service runs it (read at scrape time):
feed_consumer_lag_events, feed_consumer_seconds_since_success and
feed_consumer_poll_failures_total{reason} (connect, auth, server_error, malformed, apply)."""

from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.common.consumer import FeedConsumer

LABELS = ["consumer", "feed"]


class ConsumerCollector(Collector):
    def __init__(self, consumers: Sequence[FeedConsumer]):
        self.consumers = tuple(consumers)

    def collect(self) -> Iterable[Metric]:
        lag = GaugeMetricFamily(
            "feed_consumer_lag_events", "Events behind the feed head the consumer last saw", labels=LABELS
        )
        silent = GaugeMetricFamily(
            "feed_consumer_seconds_since_success",
            "Seconds since the consumer last read and applied a page of its feed",
            labels=LABELS,
        )
        failures = CounterMetricFamily(
            "feed_consumer_poll_failures", "Failed polls of the feed, by reason", labels=[*LABELS, "reason"]
        )
        for c in self.consumers:
            labels = [c.name, c.feed]
            lag.add_metric(labels, c.lag())
            silent.add_metric(labels, c.health.seconds_since_success())
            for reason, count in c.health.failures.items():
                failures.add_metric([*labels, reason], count)
        return [lag, silent, failures]

    def describe(self) -> Iterable[Metric]:
        return []  # read at scrape time only; auto_describe would otherwise call collect() at registration


def install_consumer_metrics(registry: CollectorRegistry, consumers: Sequence[FeedConsumer]) -> None:
    if consumers:
        registry.register(ConsumerCollector(consumers))
