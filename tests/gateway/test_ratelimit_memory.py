"""The gateway's own in-memory sliding-window counter agrees with the `limits` library's, hit for hit
and in its window stats, under a clock that the test moves."""

import asyncio
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from gateway.ratelimit_memory import MemorySlidingWindowCounter

STEPS = st.lists(
    st.tuples(st.floats(min_value=0, max_value=40), st.sampled_from(["a", "b"]), st.booleans()), min_size=1, max_size=60
)


def _replay(steps, limit: str) -> None:
    clock = [1_800_000_000.0]
    item = parse(limit)

    async def run():
        ours, theirs = MemorySlidingWindowCounter(), SlidingWindowCounterRateLimiter(MemoryStorage())
        for advance, who, stats in steps:
            clock[0] += advance
            assert await ours.hit(item, "reads", who) == await theirs.hit(item, "reads", who)
            if stats:
                mine, reference = (
                    await ours.get_window_stats(item, "reads", who),
                    await theirs.get_window_stats(item, "reads", who),
                )
                assert mine.remaining == reference.remaining
                assert abs(mine.reset_time - reference.reset_time) < 1e-6

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "time", lambda: clock[0])
        asyncio.run(run())


@settings(max_examples=60, deadline=None)
@given(steps=STEPS)
def test_same_answers_as_limits_per_minute(steps):
    _replay(steps, "5/minute")


@settings(max_examples=40, deadline=None)
@given(steps=STEPS)
def test_same_answers_as_limits_per_ten_seconds(steps):
    _replay(steps, "3/10 seconds")


def test_refuses_past_the_limit_and_forgets_old_windows(monkeypatch):
    clock = [1_800_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    item, counter = parse("2/minute"), MemorySlidingWindowCounter()

    async def run():
        assert [await counter.hit(item, "reads", "a") for _ in range(3)] == [True, True, False]
        assert await counter.hit(item, "reads", "b")  # another caller has its own count
        clock[0] += 600
        assert await counter.hit(item, "reads", "a")
        assert len(counter._windows) <= 2  # the ten-minute-old window is gone

    asyncio.run(run())
