"""A clock tests move by hand, injected where a service takes `clock`."""

from datetime import datetime, timedelta


class ManualClock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now

    def set(self, now: datetime) -> datetime:
        self.now = now
        return now
