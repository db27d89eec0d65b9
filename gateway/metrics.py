"""Per-upstream metrics, on the app's registry next to the common HTTP metrics."""

from prometheus_client import CollectorRegistry, Counter, Histogram

from services.common.metrics import LATENCY_BUCKETS

ERROR_KINDS = ("timeout", "refused", "5xx")
NO_RESPONSE = "error"  # the status label when no response arrived; errors_total says why


class UpstreamMetrics:
    def __init__(self, registry: CollectorRegistry, services: list[str]):
        self.requests = Counter(
            "gateway_upstream_requests_total",
            "Proxied requests by service and upstream status ('error': no response)",
            ["service", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "gateway_upstream_request_duration_seconds",
            "From sending to an upstream until its body is relayed (wall clock)",
            ["service"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "gateway_upstream_errors_total",
            "Upstream failures: timeout, refused (any connection-level failure), 5xx",
            ["service", "kind"],
            registry=registry,
        )
        self.retries = Counter(
            "gateway_upstream_retries_total",
            "Idempotent requests sent a second time after a connection-level failure",
            ["service"],
            registry=registry,
        )
        # Series exist at zero from the start, so rate() and alerts see the first failure.
        for service in services:
            self.duration.labels(service)
            self.retries.labels(service)
            for kind in ERROR_KINDS:
                self.errors.labels(service, kind)

    def answered(self, service: str, status: int, seconds: float) -> None:
        self.requests.labels(service, str(status)).inc()
        self.duration.labels(service).observe(seconds)
        if status >= 500:
            self.errors.labels(service, "5xx").inc()

    def failed(self, service: str, kind: str, seconds: float) -> None:
        self.requests.labels(service, NO_RESPONSE).inc()
        self.duration.labels(service).observe(seconds)
        self.errors.labels(service, kind).inc()

    def interrupted(self, service: str, kind: str) -> None:
        """The upstream answered, then failed while its body was being relayed."""
        self.errors.labels(service, kind).inc()
