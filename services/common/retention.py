"""Retention periods, counted in calendar years: the same day and time N years earlier (29 February
falls back to the 28th)."""

from datetime import datetime


def years_before(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)
