"""Loyalty's domain metrics, defined once on the app's registry."""

from prometheus_client import CollectorRegistry, Counter, Gauge

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
