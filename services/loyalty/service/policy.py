"""What the domain needs from settings and the clock, as plain values (the app builds it once)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from services.common.config import DEV_PII_KEY
from services.common.db import utcnow
from services.common.pii import PersonalDataVault

Effect = tuple[str, str, int]  # (metric, label, amount), published only after the commit
Sink = Callable[[Effect], None]


@lru_cache(maxsize=4096)  # scoring asks for the same few days once per transaction and cap
def _day_bounds(zone: tzinfo, year: int, month: int, day: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, day, tzinfo=zone)
    end = datetime.fromordinal(start.toordinal() + 1).replace(tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


@lru_cache(maxsize=1024)
def _month_bounds(zone: tzinfo, year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=zone)
    year, month0 = divmod(year * 12 + month, 12)
    end = datetime(year, month0 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _discard(_effect: Effect) -> None:
    return None


@dataclass(frozen=True)
class Policy:
    zone: tzinfo = ZoneInfo("Asia/Shanghai")
    expiry_months: int = 12
    staff_adjust_limit: int = 1000
    adjust_daily_cap: int = 5000
    tiers: tuple[tuple[str, int], ...] = (("silver", 10_000), ("gold", 50_000), ("platinum", 200_000))
    clock: Callable[[], datetime] = utcnow
    sink: Sink = field(default=_discard)
    # Seals the reasons typed on the ledger (and in approval requests); the development key by default.
    vault: PersonalDataVault = field(default_factory=lambda: PersonalDataVault(DEV_PII_KEY, ""))

    def now(self) -> datetime:
        return self.clock()

    def expires_at(self, earned_at: datetime) -> datetime:
        """The end of the `expiry_months`-th calendar month after the month of earning (bank's calendar)."""
        local = earned_at.astimezone(self.zone)
        index = local.year * 12 + (local.month - 1) + self.expiry_months + 1
        year, month0 = divmod(index, 12)
        return datetime(year, month0 + 1, 1, tzinfo=self.zone).astimezone(UTC)

    def day_bounds(self, at: datetime) -> tuple[datetime, datetime]:
        local = at.astimezone(self.zone)
        return _day_bounds(self.zone, local.year, local.month, local.day)

    def month_bounds(self, at: datetime) -> tuple[datetime, datetime]:
        local = at.astimezone(self.zone)
        return _month_bounds(self.zone, local.year, local.month)

    def tier_for(self, lifetime_earned: int) -> str:
        tier = "standard"
        for name, threshold in self.tiers:
            if lifetime_earned >= threshold:
                tier = name
        return tier
