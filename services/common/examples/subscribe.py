"""A bank system reading the suite's events from NATS JetStream with its own credentials: pulls the
consumer the operator granted it for a scope, prints each event as one JSON line, and acknowledges it
after printing (at least once: a system that must act once keeps the event ids it has acted on).

    python -m services.common.examples.subscribe --url nats://bank-crm:PASSWORD@nats:4222 \\
        --system crm --scope customers [--max 10] [--idle-exit 5]
"""

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence

import nats

from services.common.jetstream import Transport
from services.common.subscriptions import SCOPES, consumer_name, inbox_prefix


async def subscribe(args: argparse.Namespace) -> int:
    transport = Transport(url=args.url, prefix=args.prefix)
    nc = await nats.connect(servers=args.url.split(","), inbox_prefix=inbox_prefix(args.system).encode())
    seen = 0
    try:
        js = nc.jetstream()
        stream = transport.stream(SCOPES[args.scope][0])
        sub = await js.pull_subscribe_bind(consumer_name(args.system, args.scope), stream=stream)
        idle_since = time.monotonic()
        while args.max == 0 or seen < args.max:
            try:
                msgs = await sub.fetch(min(args.batch, args.max - seen) if args.max else args.batch, timeout=1)
            except TimeoutError:  # nats.errors.TimeoutError is one too; fetch raises either when nothing came
                if args.idle_exit and time.monotonic() - idle_since > args.idle_exit:
                    break
                continue
            for m in msgs:
                print(json.dumps({"subject": m.subject, "event": json.loads(m.data)}), flush=True)
                await m.ack()
                seen += 1
            idle_since = time.monotonic()
    finally:
        await nc.close()
    print(f"{seen} events", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m services.common.examples.subscribe", description=__doc__)
    p.add_argument("--url", required=True, help="nats://<user>:<password>@host:4222 (the system's own user)")
    p.add_argument("--system", required=True)
    p.add_argument("--scope", required=True, choices=sorted(SCOPES))
    p.add_argument("--prefix", default="suite")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--max", type=int, default=0, help="stop after this many events (0: never)")
    p.add_argument("--idle-exit", type=float, default=0, help="stop after this many seconds without events")
    return asyncio.run(subscribe(p.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
