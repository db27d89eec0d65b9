"""Segmentation's domain metrics, on the app's own registry (served by /metrics with the HTTP ones)."""

from prometheus_client import CollectorRegistry, Counter, Histogram

RECOMPUTE_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


class SegmentationMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.recomputes = Counter(
            "segmentation_recomputes_total", "Finished recompute jobs by outcome", ["status"], registry=registry
        )
        self.recompute_seconds = Histogram(
            "segmentation_recompute_duration_seconds",
            "Wall-clock time of a full recompute job",
            buckets=RECOMPUTE_BUCKETS,
            registry=registry,
        )
        self.class_changes = Counter(
            "segmentation_recompute_class_changes_total",
            "Class and rule-segment changes written by recompute jobs",
            registry=registry,
        )

        self.quarantined = Counter(
            "segmentation_events_quarantined_total",
            "Feed events set aside as malformed (see event_quarantine)",
            ["feed", "type"],
            registry=registry,
        )
        self.recompute_step_seconds = Histogram(
            "segmentation_recompute_step_duration_seconds",
            "Wall-clock time of each recompute step",
            ["step"],
            buckets=RECOMPUTE_BUCKETS,
            registry=registry,
        )

    def event_quarantined(self, feed: str, event_type: str) -> None:
        self.quarantined.labels(feed, event_type).inc()

    def recompute_step(self, step: str, seconds: float) -> None:
        self.recompute_step_seconds.labels(step).observe(seconds)

    def recompute_finished(self, status: str, seconds: float, changed: int) -> None:
        self.recomputes.labels(status).inc()
        self.recompute_seconds.observe(seconds)
        self.class_changes.inc(changed)
