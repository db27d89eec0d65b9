"""Per-upstream metrics, on the app's registry next to the common HTTP metrics."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.common.metrics import LATENCY_BUCKETS

ERROR_KINDS = ("timeout", "refused", "5xx")
EXPORT_OUTCOMES = ("complete", "partial", "failed")
NO_RESPONSE = "error"  # the status label when no response arrived; errors_total says why


class UpstreamMetrics:
    def __init__(self, registry: CollectorRegistry, services: list[str]):
        self._answered: dict[tuple[str, int], tuple[Counter, Histogram]] = {}
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
        self.retries_refused = Counter(
            "gateway_upstream_retries_refused_total",
            "Retries not sent because the retry budget was spent",
            ["service"],
            registry=registry,
        )
        self.circuit_state = Gauge(
            "gateway_upstream_circuit_state",
            "Circuit breaker per upstream: 0 closed, 1 half-open, 2 open",
            ["service"],
            registry=registry,
        )
        self.circuit_rejections = Counter(
            "gateway_upstream_circuit_rejections_total",
            "Requests answered 503 at once because the upstream's circuit was open",
            ["service"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "gateway_rate_limited_total",
            "Requests refused with 429, by route class (reads, writes, bulk)",
            ["route_class"],
            registry=registry,
        )
        self.rate_limit_errors = Counter(
            "gateway_rate_limit_storage_errors_total",
            "Rate-limit checks that could not reach their storage (the request was let through)",
            registry=registry,
        )
        self.overview_partial = Counter(
            "gateway_overview_partial_total",
            "Customer overview parts left out, by part and reason",
            ["part", "reason"],
            registry=registry,
        )
        self.work_queue_partial = Counter(
            "gateway_work_queue_partial_total",
            "Staff work-queue sources left out, by source and reason",
            ["part", "reason"],
            registry=registry,
        )
        self.exports = Counter(
            "gateway_personal_data_exports_total",
            "Personal-data exports by outcome: complete, partial (a part missing), failed (profile's missing)",
            ["outcome"],
            registry=registry,
        )
        self._start_at_zero(services)

    def _start_at_zero(self, services: list[str]) -> None:
        # Series exist at zero from the start, so rate() and alerts see the first failure.
        for service in services:
            self.duration.labels(service)
            self.retries.labels(service)
            self.retries_refused.labels(service)
            self.circuit_state.labels(service).set(0)
            self.circuit_rejections.labels(service)
            for kind in ERROR_KINDS:
                self.errors.labels(service, kind)
        for route_class in ("reads", "writes", "bulk"):
            self.rate_limited.labels(route_class)
        for outcome in EXPORT_OUTCOMES:
            self.exports.labels(outcome)

    def answered(self, service: str, status: int, seconds: float) -> None:
        children = self._answered.get((service, status))
        if children is None:  # label children looked up once per (service, status): labels() is slow
            children = self._answered[(service, status)] = (
                self.requests.labels(service, str(status)),
                self.duration.labels(service),
            )
        children[0].inc()
        children[1].observe(seconds)
        if status >= 500:
            self.errors.labels(service, "5xx").inc()

    def failed(self, service: str, kind: str, seconds: float) -> None:
        self.requests.labels(service, NO_RESPONSE).inc()
        self.duration.labels(service).observe(seconds)
        self.errors.labels(service, kind).inc()

    def interrupted(self, service: str, kind: str) -> None:
        """The upstream answered, then failed while its body was being relayed."""
        self.errors.labels(service, kind).inc()
