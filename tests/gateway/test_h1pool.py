"""The proxy's HTTP/1.1 upstream pool against a scripted server on a real socket: keep-alive reuse and
when a connection must not be reused, framing (HEAD, interim answers, chunked and large bodies), the
pool limit, timeouts and failures."""

import asyncio
import socket
from collections.abc import Callable

import pytest

from gateway.h1pool import Pool, Timeouts, UpstreamError, UpstreamTimeoutError

FAST = Timeouts(connect=1.0, read=1.0, pool=1.0, keepalive=30.0)


def ok(body: bytes = b"{}", *extra: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (
        len(body),
        b"".join(e + b"\r\n" for e in extra),
        body,
    )


class Scripted:
    """Answers the n-th request (counted from 0 over all connections) with answer(n, head), which may
    be bytes, None (close without answering) or a coroutine result. Counts connections and requests."""

    def __init__(self, answer: Callable):
        self.answer = answer
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        await reader.readexactly(int(line.split(b":")[1]))
                n = len(self.requests)
                self.requests.append(head)
                reply = self.answer(n, head)
                if asyncio.iscoroutine(reply):
                    reply = await reply
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


def run(answer: Callable, scenario: Callable, timeouts: Timeouts = FAST, limit: int = 10) -> Scripted:
    server = Scripted(answer)

    async def main():
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        pool = Pool("127.0.0.1", port, limit, timeouts)
        try:
            await scenario(pool)
        finally:
            pool.close()
            listener.close()

    asyncio.run(main())
    return server


async def get(pool: Pool, target: str = "/v1/x", method: str = "GET") -> tuple[int, bytes]:
    answer = await pool.request(method, target, [(b"accept", b"*/*")], b"")
    try:
        return answer.status_code, await answer.read()
    finally:
        answer.close()


def test_keep_alive_connection_reused_for_sequential_requests():
    async def scenario(pool):
        assert [await get(pool, f"/v1/{i}") for i in range(3)] == [(200, b"{}")] * 3

    server = run(lambda n, head: ok(), scenario)
    assert server.connections == 1
    assert server.requests[2].startswith(b"GET /v1/2 HTTP/1.1\r\nhost: 127.0.0.1:")


def test_connection_close_answer_not_reused_and_its_slot_freed():
    async def scenario(pool):
        for _ in range(3):  # with limit 1, a slot not freed would turn the next request into a pool timeout
            assert await get(pool) == (200, b"{}")

    server = run(
        lambda n, head: ok(b"{}", b"connection: close") if n < 2 else ok(),
        scenario,
        Timeouts(connect=1, read=1, pool=0.3, keepalive=30),
        limit=1,
    )
    assert server.connections == 3


def test_idle_connection_past_keepalive_expiry_not_reused():
    async def scenario(pool):
        await get(pool)
        await asyncio.sleep(0.15)
        await get(pool)

    server = run(lambda n, head: ok(), scenario, Timeouts(connect=1, read=1, pool=1, keepalive=0.1))
    assert server.connections == 2


def test_head_answer_has_no_body_and_its_connection_is_not_reused():
    async def scenario(pool):
        assert await get(pool, method="HEAD") == (200, b"")
        assert await get(pool) == (200, b"{}")

    server = run(lambda n, head: b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n" if n == 0 else ok(), scenario)
    assert server.connections == 2


def test_interim_answer_skipped_final_headers_kept():
    async def scenario(pool):
        answer = await pool.request("GET", "/v1/x", [], b"")
        assert answer.status_code == 201
        assert (b"x-final", b"yes") in answer.headers
        assert not any(name == b"link" for name, _ in answer.headers)
        assert await answer.read() == b"made"
        answer.close()

    run(
        lambda n, head: (
            b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n"
            b"HTTP/1.1 201 Created\r\nx-final: yes\r\ncontent-length: 4\r\n\r\nmade"
        ),
        scenario,
    )


def test_chunked_and_large_bodies_arrive_whole():
    big = bytes(range(256)) * 12_288  # 3 MiB: reading pauses and resumes on the way

    def answer(n, head):
        if n == 0:
            return b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        return ok(big)

    async def scenario(pool):
        assert await get(pool) == (200, b"abcde")
        status, body = await get(pool)
        assert (status, len(body), body == big) == (200, len(big), True)
        assert await get(pool) == (200, big)  # the same connection, still in step

    server = run(answer, scenario)
    assert server.connections == 1


def test_full_pool_waits_then_times_out_and_a_freed_connection_is_handed_on():
    release = asyncio.Event()

    async def slow(n, head):
        if n == 0:
            await release.wait()
        return ok()

    async def scenario(pool):
        first = asyncio.ensure_future(get(pool))
        await asyncio.sleep(0.05)
        with pytest.raises(UpstreamTimeoutError):
            await get(pool)  # the only connection is busy past the pool timeout
        third = asyncio.ensure_future(get(pool))
        await asyncio.sleep(0.05)
        release.set()
        assert await first == (200, b"{}")
        assert await third == (200, b"{}")

    server = run(slow, scenario, Timeouts(connect=1, read=2, pool=0.2, keepalive=30), limit=1)
    assert server.connections == 1


def test_read_timeout_spoils_the_connection():
    async def answer(n, head):
        if n == 0:
            await asyncio.sleep(0.5)
        return ok()

    async def scenario(pool):
        with pytest.raises(UpstreamTimeoutError):
            await get(pool)
        assert await get(pool) == (200, b"{}")

    server = run(answer, scenario, Timeouts(connect=1, read=0.2, pool=1, keepalive=30))
    assert server.connections == 2


def test_caller_cancelled_mid_body_connection_closed_not_reused():
    async def scenario(pool):
        answer = await pool.request("GET", "/v1/x", [], b"")
        reading = asyncio.ensure_future(answer.read())
        await asyncio.sleep(0.05)
        reading.cancel()
        answer.close()
        assert await get(pool) == (200, b"{}")

    server = run(lambda n, head: b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf" if n == 0 else ok(), scenario)
    assert server.connections == 2


CUT = b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\ncut"


@pytest.mark.parametrize("reply", [None, b"NOT HTTP AT ALL\r\n\r\n", CUT], ids=["closed", "malformed", "cut"])
def test_no_usable_answer_is_an_upstream_error(reply):
    async def main():
        async def handle(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            if reply:
                writer.write(reply)
            writer.close()

        listener = await asyncio.start_server(handle, "127.0.0.1", 0)
        pool = Pool("127.0.0.1", listener.sockets[0].getsockname()[1], 10, FAST)
        with pytest.raises(UpstreamError) as caught:
            await get(pool)
        assert caught.value.kind == "refused"
        listener.close()

    asyncio.run(main())


def test_refused_connection_frees_its_slot():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main():
        pool = Pool("127.0.0.1", port, 1, FAST)
        for _ in range(3):  # with limit 1, a leaked slot would turn the later ones into pool timeouts
            with pytest.raises(UpstreamError) as caught:
                await pool.request("GET", "/v1/x", [], b"")
            assert caught.value.kind == "refused"

    asyncio.run(main())


def test_request_line_headers_and_body_sent_as_given():
    async def scenario(pool):
        answer = await pool.request("POST", "/v1/x?a=1", [(b"content-type", b"application/json")], b'{"k":1}')
        await answer.read()
        answer.close()
        answer = await pool.request("POST", "/v1/y", [], b"")
        await answer.read()
        answer.close()

    server = run(lambda n, head: ok(), scenario)
    first, second = server.requests
    assert first.startswith(b"POST /v1/x?a=1 HTTP/1.1\r\n")
    assert b"\r\ncontent-type: application/json\r\n" in first and b"\r\ncontent-length: 7\r\n" in first
    assert b"\r\ncontent-length: 0\r\n" in second  # a POST always says how long its body is
