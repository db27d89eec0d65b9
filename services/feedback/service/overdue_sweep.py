"""The periodic overdue sweep, run in a daemon thread from the app's lifespan (the same start()/stop()
shape as the kit's ConsumerThread): flags newly overdue complaints and emits complaint.overdue."""

import logging
import threading

from services.common.auth import Principal
from services.common.db import Database
from services.feedback.service.complaints import ComplaintContext
from services.feedback.service.escalations import sweep_overdue

log = logging.getLogger("feedback.jobs")
SWEEPER = Principal(sub="feedback-overdue-sweep", role="system")


class OverdueSweepThread:
    def __init__(self, db: Database, ctx: ComplaintContext, interval_seconds: float):
        self.db, self.ctx, self.interval = db, ctx, interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                result = sweep_overdue(self.db, actor=SWEEPER, ctx=self.ctx)
                if result.newly_flagged:
                    log.info("overdue complaints flagged", extra={"fields": result.model_dump()})
            except Exception as err:  # noqa: BLE001 - the next round retries; the sweep is idempotent
                log.warning("overdue sweep failed", extra={"fields": {"error": type(err).__name__}})

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="feedback-overdue-sweep", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
