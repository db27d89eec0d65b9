"""Shared by the schemathesis suites."""

from typing import Any

FEED_WAIT_CAP = "0.05"  # seconds: the feed's long poll is exercised, but never held for the test's time


def cap_feed_wait(case: Any) -> None:
    """A generated `wait` on GET /v1/events would hold an empty answer for up to 30 s: keep the
    parameter (its validation is still fuzzed) but cap a valid value to a moment."""
    if case.path != "/v1/events" or not case.query or not isinstance(case.query.get("wait"), str | int | float):
        return
    try:
        wait = float(case.query["wait"])
    except ValueError:
        return
    if 0 < wait <= 30:
        case.query["wait"] = FEED_WAIT_CAP


def send_empty_lists(case: Any) -> None:
    """A generated unknown query parameter whose value is an empty list is dropped by httpx, so the
    request that leaves is valid and schemathesis reports the 200 as "schema-violating request
    accepted". Send it as an empty value instead, which is what the negative case meant."""
    if case.query:
        for name, value in list(case.query.items()):
            if value == []:
                case.query[name] = ""


def prepare(case: Any) -> None:
    """Every schemathesis suite's adjustments to a generated case before it is sent."""
    cap_feed_wait(case)
    send_empty_lists(case)
