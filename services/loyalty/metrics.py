"""Loyalty's domain metrics, defined once on the app's registry."""

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.loyalty.service.delivery.worker import Tally
from services.loyalty.service.policy import Effect


class LoyaltyMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.issued = Counter(
            "loyalty_points_issued_total", "Points credited, by source", ["source"], registry=registry
        )
        self.redeemed = Counter("loyalty_points_redeemed_total", "Points debited for rewards", registry=registry)
        self.expired = Counter("loyalty_points_expired_total", "Points expired", registry=registry)
        self.redemptions = Counter(
            "loyalty_redemptions_total", "Redemptions, by reward code", ["reward"], registry=registry
        )
        self.ledger_mismatches = Gauge(
            "loyalty_ledger_mismatched_accounts",
            "Accounts whose stored balance disagrees with the ledger at the last check",
            registry=registry,
        )
        self.deliveries = Counter(
            "loyalty_delivery_attempts_total",
            "Outreach messages handed to a channel, by channel and outcome (sent, retry, failed)",
            ["channel", "outcome"],
            registry=registry,
        )
        self.delivery_failures = Counter(
            "loyalty_delivery_failures_total",
            "Messages a channel did not send (retried or final), by channel and reason",
            ["channel", "reason"],
            registry=registry,
        )

    def record_delivery(self, tally: Tally) -> None:
        """The sink for what each delivery pass did."""
        for (channel, outcome), n in tally.outcomes.items():
            self.deliveries.labels(channel, outcome).inc(n)
        for (channel, reason), n in tally.failures.items():
            self.delivery_failures.labels(channel, reason).inc(n)

    def record(self, effect: Effect) -> None:
        """The sink for effects the domain publishes after each commit."""
        name, label, amount = effect
        if name == "issued":
            self.issued.labels(label).inc(amount)
        elif name == "redeemed":
            self.redeemed.inc(amount)
            self.redemptions.labels(label).inc()
        elif name == "expired":
            self.expired.inc(amount)


class _OutreachCollector(Collector):
    def __init__(self, read: Callable[[], list[tuple[str, str, int]]]):
        self.read = read

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "loyalty_outreach_records", "Outreach records by channel and state", labels=["channel", "state"]
        )
        try:
            rows = self.read()
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database is away
            rows = []
        for channel, state, n in sorted(rows):
            family.add_metric([channel, state], n)
        yield family


def install_outreach_metrics(registry: CollectorRegistry, read: Callable[[], list[tuple[str, str, int]]]) -> None:
    """`loyalty_outreach_records{channel, state}`, counted at each scrape."""
    registry.register(_OutreachCollector(read))
