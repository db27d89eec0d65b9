"""Bank systems' subscriptions to the suite's JetStream streams: a scope names the event types a system
may read; granting it makes a durable pull consumer filtered to them (`bank-<system>-<scope>`), which the
system pulls with its own NATS user, permitted to that consumer only (docs/events.md, "Bank systems
subscribe"). Run by the operator:

    python -m services.common.subscriptions grant --system crm --scope customers \\
        --nats-url nats://operator:PASSWORD@nats:4222
"""

import argparse
import asyncio
import json
import os
from collections.abc import Sequence

from nats.js import JetStreamContext, api

from services.common.jetstream import Transport, connect

# scope -> (owning service, event types as a subject tail): what a system granted the scope reads
SCOPES: dict[str, tuple[str, str]] = {
    "customers": ("profile", "customer.>"),
    "consents": ("profile", "consent.>"),
    "agreements": ("profile", "agreement.>"),
    "transactions": ("profile", "transaction.>"),
    "assets": ("profile", "assets.>"),
    "segments": ("segmentation", "segment.>"),
    "surveys": ("feedback", "survey.>"),
    "complaints": ("feedback", "complaint.>"),
    "points": ("loyalty", "points.>"),
}


def consumer_name(system: str, scope: str) -> str:
    return f"bank-{system}-{scope}"


def filter_subject(transport: Transport, scope: str) -> str:
    """Every partition, the scope's event types: `suite.profile.*.customer.>`."""
    service, types = SCOPES[scope]
    return f"{transport.prefix}.{service}.*.{types}"


def user_permissions(transport: Transport, system: str, scopes: Sequence[str]) -> dict[str, object]:
    """The NATS user entry (for accounts.conf) that lets `system` pull its scopes' consumers and nothing else."""
    publish = []
    for scope in scopes:
        stream, name = transport.stream(SCOPES[scope][0]), consumer_name(system, scope)
        publish += [f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}", f"$JS.ACK.{stream}.{name}.>"]
    return {
        "user": f"bank-{system}",
        "password": f"${'BANK_' + system.upper().replace('-', '_')}_NATS_PASSWORD",
        "permissions": {"publish": {"allow": publish}, "subscribe": {"allow": [inbox_prefix(system) + ".>"]}},
    }


def inbox_prefix(system: str) -> str:
    """A system's own reply subjects, so that its user may read its replies and no one else's."""
    return f"_INBOX_bank-{system}"


async def grant(
    js: JetStreamContext, transport: Transport, system: str, scope: str, from_start: bool = False
) -> api.ConsumerInfo:
    """Makes (or keeps) the system's durable consumer for the scope: from the next event on, or from the
    oldest the stream still holds."""
    name = consumer_name(system, scope)
    config = api.ConsumerConfig(
        name=name,
        durable_name=name,
        filter_subject=filter_subject(transport, scope),
        ack_policy=api.AckPolicy.EXPLICIT,
        deliver_policy=api.DeliverPolicy.ALL if from_start else api.DeliverPolicy.NEW,
        ack_wait=60,
        max_ack_pending=1000,
    )
    return await js.add_consumer(transport.stream(SCOPES[scope][0]), config)


async def _grant(args: argparse.Namespace) -> None:
    transport = Transport(url=args.nats_url, prefix=args.prefix)
    nc = await connect(transport, "subscriptions")
    try:
        for scope in args.scope:
            await grant(nc.jetstream(), transport, args.system, scope, args.from_start)
    finally:
        await nc.close()
    print(json.dumps(user_permissions(transport, args.system, args.scope), indent=2))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m services.common.subscriptions", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grant", help="make a system's consumers for its scopes; print its NATS user entry")
    g.add_argument("--system", required=True, help="the bank system's short name (letters, digits, -)")
    g.add_argument("--scope", required=True, action="append", choices=sorted(SCOPES))
    g.add_argument("--from-start", action="store_true", help="deliver the events the stream still holds too")
    g.add_argument("--nats-url", default=os.environ.get("SUITE_NATS_URL", "nats://127.0.0.1:4222"))
    g.add_argument("--prefix", default=os.environ.get("SUITE_NATS_SUBJECT_PREFIX", "suite"))
    asyncio.run(_grant(p.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
