"""When the database cannot take a write (a lock held past the busy or lock timeout, a full disk, a
lost connection), the request is answered 503 `storage_unavailable` with Retry-After, never a 500: the
unit of work has rolled back, so nothing is half-written. The gateway's breaker counts such 503s.
Readiness knows too: the `writes` check answers not ready while a storage failure is recent (within
FAILURE_MEMORY_SECONDS) and no write has succeeded since; after that it probes a harmless write (a no-op
update of `alembic_version`, committed), and a probe that fails keeps it not ready. A small probe may
fit where real writes do not (a nearly full disk): then the replica takes traffic again, fails again
and is not ready for another FAILURE_MEMORY_SECONDS, so it serves only a trickle meanwhile."""

import logging
import threading
import time
from typing import Any

from sqlalchemy import exc, text

log = logging.getLogger("services.storage")

RETRY_AFTER_SECONDS = 5
FAILURE_MEMORY_SECONDS = 10.0
STORAGE_ERRORS = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError)


def is_storage_error(err: BaseException) -> bool:
    """The database could not do the work, whatever was asked of it (not a constraint or a bug)."""
    if isinstance(err, exc.DBAPIError) and err.connection_invalidated:
        return True
    return isinstance(err, STORAGE_ERRORS)


def describe(err: BaseException) -> str:
    """The driver's one-line reason, never the statement or its parameters."""
    reason = getattr(err, "orig", None) or err
    return f"{type(reason).__name__}: {str(reason).splitlines()[0][:120] if str(reason) else ''}"


class WriteHealth:
    """The last storage failure and the last write that succeeded after it, for readiness."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.failed_at: float | None = None
        self.reason = ""

    def failed(self, err: BaseException) -> None:
        with self._lock:
            self.failed_at, self.reason = time.monotonic(), describe(err)

    def succeeded(self) -> None:
        if self.failed_at is not None:
            with self._lock:
                self.failed_at, self.reason = None, ""

    def check(self, db: Any) -> tuple[bool, str]:
        """A readiness check: ok while no failure is outstanding; after one, a probe write decides."""
        if self.failed_at is None:
            return True, "ok"
        if time.monotonic() - self.failed_at < FAILURE_MEMORY_SECONDS:
            return False, f"writes failing: {self.reason}"
        try:
            with db.write() as s:
                s.execute(text("UPDATE alembic_version SET version_num = version_num"))
                s.commit()
        except Exception as err:  # noqa: BLE001 - any failure of the probe means writes still fail
            self.failed(err)
            return False, f"writes failing: {self.reason}"
        return True, "ok (recovered)"
