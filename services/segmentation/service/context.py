"""What every segmentation service function works with (database, settings, clock, metric hooks) and
the not-found errors they share."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.common.db import Database
from services.common.errors import NotFound
from services.segmentation.config import SegmentationSettings
from services.segmentation.models import (
    customer_feature,
)

log = logging.getLogger("segmentation")
cf = customer_feature
Clock = Callable[[], datetime]
SAMPLE_SIZE = 20


@dataclass(frozen=True)
class Context:
    db: Database
    settings: SegmentationSettings
    clock: Clock
    on_recompute: Callable[[str, float, int], None] | None = None  # (status, seconds, changes), for metrics
    on_step: Callable[[str, float], None] | None = None  # (step, seconds) of each recompute step, for metrics


def customer_not_found(customer_id: Any) -> NotFound:
    return NotFound(f"No features for customer {customer_id}", code="customer_not_found")


def segment_not_found(segment_id: Any) -> NotFound:
    return NotFound(f"No segment {segment_id}", code="segment_not_found")
