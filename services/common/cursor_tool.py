"""The operator's view of a service's feed cursors: show where each consumer stands, or move one (after
restoring a database from a backup, say), instead of editing consumer_cursor rows by hand. Each
consuming service runs it as `python -m services.<svc>.tools.cursor [--set FEED=POSITION]`."""

import argparse
from collections.abc import Sequence

from sqlalchemy import Table, select, update

from services.common.db import Database, upsert_insert, utcnow


def _parse(argv: Sequence[str] | None, prog: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=prog, description=__doc__)
    p.add_argument(
        "--set",
        metavar="FEED=POSITION",
        help="move FEED's cursor to POSITION (>= 0): the next poll reads the events after it; "
        "a lower position replays events, a higher one skips them",
    )
    return p.parse_args(argv)


def _target(value: str) -> tuple[str, int] | None:
    feed, _, position = value.partition("=")
    if not feed or not position.isdigit():
        return None
    return feed, int(position)


def run(
    database_url: str, table: Table, feeds: Sequence[str], argv: Sequence[str] | None = None, prog: str = ""
) -> int:
    """Prints every cursor (`feed position updated_at`); with --set moves one and prints it before and
    after. Exits 2 for an unknown feed or a malformed value, naming the feeds this service reads."""
    args = _parse(argv, prog)
    db = Database(database_url)
    try:
        if args.set is not None:
            target = _target(args.set)
            if target is None or target[0] not in feeds:
                print(f"--set takes FEED=POSITION with FEED one of {', '.join(feeds)} and POSITION >= 0")
                return 2
            _move(db, table, *target)
        with db.read() as s:
            rows = s.execute(select(table).order_by(table.c.consumer)).all()
        known = {r.consumer: r for r in rows}
        for feed in feeds:
            row = known.get(feed)
            print(f"{feed} {row.position} {row.updated_at.isoformat()}" if row else f"{feed} 0 (never read)")
    finally:
        db.dispose()
    return 0


def _move(db: Database, table: Table, feed: str, position: int) -> None:
    with db.write() as s:
        before = s.execute(select(table.c.position).where(table.c.consumer == feed)).scalar()
        s.execute(
            upsert_insert(s)(table)
            .values(consumer=feed, position=position, updated_at=utcnow())
            .on_conflict_do_nothing()
        )
        s.execute(update(table).where(table.c.consumer == feed).values(position=position, updated_at=utcnow()))
        s.commit()
    print(f"moved {feed}: {before if before is not None else 0} -> {position}")
