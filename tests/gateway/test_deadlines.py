"""gateway.deadlines: fixed-length timeouts for many waits on one loop timer."""

import asyncio

from gateway.deadlines import Deadlines


def test_a_wait_expires_after_its_length_unless_stopped_first():
    async def run():
        loop = asyncio.get_running_loop()
        d = Deadlines(0.1, slack=0.02)
        fired: list[tuple[str, float]] = []
        began = loop.time()
        d.start(lambda: fired.append(("late", loop.time() - began)))
        stopped = d.start(lambda: fired.append(("stopped", 0.0)))
        d.stop(stopped)
        await asyncio.sleep(0.05)
        assert fired == [] and len(d) == 1
        await asyncio.sleep(0.15)
        assert [name for name, _ in fired] == ["late"] and 0.1 <= fired[0][1] < 0.2
        assert len(d) == 0 and d._timer is None  # nothing left: no timer either

    asyncio.run(run())


def test_waits_expire_in_the_order_they_started_on_one_timer():
    async def run():
        d = Deadlines(0.2, slack=0.01)
        fired: list[int] = []
        d.start(lambda: fired.append(0))
        timer = d._timer
        for i in (1, 2):
            await asyncio.sleep(0.01)
            d.start(lambda i=i: fired.append(i))
            assert d._timer is timer  # later waits reuse the timer set for the first
        await asyncio.sleep(0.3)
        assert fired == [0, 1, 2]

    asyncio.run(run())


def test_a_failing_callback_does_not_stop_the_others():
    async def run():
        loop = asyncio.get_running_loop()
        reported = []
        loop.set_exception_handler(lambda _loop, context: reported.append(context["exception"]))
        d = Deadlines(0.01, slack=0.0)
        fired = []

        def boom():
            raise RuntimeError("boom")

        d.start(boom)
        d.start(lambda: fired.append("after"))
        await asyncio.sleep(0.05)
        assert fired == ["after"] and [type(e) for e in reported] == [RuntimeError]

    asyncio.run(run())


def test_a_new_loop_starts_afresh_and_close_cancels_the_timer():
    d = Deadlines(0.05, slack=0.0)
    fired = []

    async def first():
        d.start(lambda: fired.append("first"))  # its loop ends before the deadline

    async def second():
        d.start(lambda: fired.append("second"))
        assert len(d) == 1  # the first loop's wait is gone
        await asyncio.sleep(0.1)
        d.start(lambda: fired.append("closed"))
        d.close()
        await asyncio.sleep(0.1)

    asyncio.run(first())
    asyncio.run(second())
    assert fired == ["second"]
