"""Monthly range partitions on PostgreSQL (declarative partitioning, no extension): a table declared
partitioned in its model (`monthly_partitions(column)` in its table info) is partitioned by that
UTC timestamp column on PostgreSQL, one partition a month plus a default partition that catches
the rest; SQLite keeps one plain table. Creating the months ahead is a scheduled job; a month whose
rows already sit in the default partition is moved out of it first, so creating never fails."""

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, MetaData, Table, text

from services.common.db import Database
from services.common.jobs import Job, Schedule

INFO_KEY = "partition_by_month"
MONTHS_AHEAD = 3  # partitions exist this many months past the current one


def monthly_partitions(column: str) -> dict[str, dict[str, str]]:
    """A model's `__table_args__` entry: partitioned by month on `column` on PostgreSQL. There every
    primary key and unique constraint must include `column`, so the model's must too on both
    databases (a uniqueness without it is kept by a table of its own)."""
    return {"info": {INFO_KEY: column}}


def partitioned_tables(metadata: MetaData) -> dict[str, str]:
    """{table name: partition column} of the tables declared partitioned."""
    return {t.name: t.info[INFO_KEY] for t in metadata.tables.values() if INFO_KEY in t.info}


def month_start(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def add_months(month: datetime, n: int) -> datetime:
    index = month.year * 12 + month.month - 1 + n
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(table: str, month: datetime) -> str:
    return f"{table}_p{month:%Y_%m}"


def default_partition(table: str) -> str:
    return f"{table}_default"


def is_partition_of(name: str, table: str) -> bool:
    """Is `name` one of `table`'s partitions, by the names this module gives them?"""
    rest = name.removeprefix(f"{table}_")
    if rest == name:
        return False
    return rest == "default" or re.fullmatch(r"p\d{4}_\d{2}", rest) is not None


def ensure_month_partitions(
    conn: Connection, table: Table | str, column: str, first: datetime, last: datetime
) -> list[str]:
    """Creates the partitions of every month from `first`'s to `last`'s that does not exist yet
    (PostgreSQL; nothing elsewhere) and returns their names. Rows of such a month already in the
    default partition are moved into the new one in the same transaction."""
    if conn.dialect.name != "postgresql":
        return []
    name = table if isinstance(table, str) else table.name
    existing = set(
        conn.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :t"
            ),
            {"t": name},
        ).scalars()
    )
    created = []
    month = month_start(first)
    while month <= month_start(last):
        part, upper = partition_name(name, month), add_months(month, 1)
        if part not in existing:
            _create(conn, name, part, column, month, upper, default_partition(name) in existing)
            created.append(part)
        month = upper
    return created


def fill_partitioned(conn: Connection, table: str, column: str, source: str) -> None:
    """The last step of a migration that rebuilds `table` partitioned by month of `column` (created
    empty, `PARTITION BY RANGE`, with `source`'s columns in their order): its default partition, the
    partitions of every month from `source`'s oldest row (none: the current month) to MONTHS_AHEAD
    months ahead, and every row of `source` copied in."""
    conn.execute(text(f'CREATE TABLE "{default_partition(table)}" PARTITION OF "{table}" DEFAULT'))
    oldest = conn.execute(text(f'SELECT min("{column}") FROM "{source}"')).scalar()  # noqa: S608 - model names
    now = datetime.now(UTC)
    first = month_start(min(oldest, now) if oldest else now)
    ensure_month_partitions(conn, table, column, first, add_months(month_start(now), MONTHS_AHEAD))
    conn.execute(text(f'INSERT INTO "{table}" SELECT * FROM "{source}"'))  # noqa: S608 - model names


def unpartition(conn: Connection, table: str) -> None:
    """A migration's downgrade of partitioned `table`: one plain table of the same name, columns, defaults
    and checks, holding every row (built as `<table>_unpartitioned`, the partitioned one dropped with its
    partitions); its keys, indexes and references are the caller's to add back."""
    plain = f"{table}_unpartitioned"
    conn.execute(text(f'CREATE TABLE "{plain}" (LIKE "{table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)'))
    conn.execute(text(f'INSERT INTO "{plain}" SELECT * FROM "{table}"'))  # noqa: S608 - model names
    conn.execute(text(f'DROP TABLE "{table}" CASCADE'))
    conn.execute(text(f'ALTER TABLE "{plain}" RENAME TO "{table}"'))


def _create(
    conn: Connection, table: str, part: str, column: str, lower: datetime, upper: datetime, has_default: bool
) -> None:
    bounds = {"lo": lower, "hi": upper}
    spec = f"FOR VALUES FROM ('{lower.isoformat()}') TO ('{upper.isoformat()}')"
    default = default_partition(table)
    stray = (
        has_default
        and conn.execute(
            text(f'SELECT EXISTS (SELECT 1 FROM "{default}" WHERE "{column}" >= :lo AND "{column}" < :hi)'),  # noqa: S608 - names from the models
            bounds,
        ).scalar()
    )
    if not stray:
        conn.execute(text(f'CREATE TABLE "{part}" PARTITION OF "{table}" {spec}'))
        return
    # A partition cannot be created over rows the default partition holds: move them out first.
    conn.execute(text(f'CREATE TABLE "{part}" (LIKE "{table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)'))
    moved = f'DELETE FROM "{default}" WHERE "{column}" >= :lo AND "{column}" < :hi RETURNING *'  # noqa: S608 - model names
    move = f'WITH moved AS ({moved}) INSERT INTO "{part}" SELECT * FROM moved'  # noqa: S608 - model names
    conn.execute(text(move), bounds)
    conn.execute(text(f'ALTER TABLE "{table}" ATTACH PARTITION "{part}" {spec}'))


def ensure_partitions_ahead(
    db: Database, metadata: MetaData, now: datetime, months_ahead: int = MONTHS_AHEAD
) -> list[str]:
    """The scheduled job's work: every partitioned table of `metadata` gets its partitions from the
    current month to `months_ahead` months past it, and from the oldest month whose rows wait in the
    default partition (history loaded late), moving those rows into their months; one transaction;
    the names created (none on SQLite, none when nothing is missing)."""
    created: list[str] = []
    this_month = month_start(now)
    last = add_months(this_month, months_ahead)
    with db.write() as s:
        conn = s.connection()
        if conn.dialect.name != "postgresql":
            return []
        for table, column in partitioned_tables(metadata).items():
            oldest = conn.execute(text(f'SELECT min("{column}") FROM "{default_partition(table)}"')).scalar()  # noqa: S608 - model names
            first = min(month_start(oldest), this_month) if oldest else this_month
            created += ensure_month_partitions(conn, table, column, first, last)
        s.commit()
    return created


def month_partitions_job(
    db: Database, metadata: MetaData, schedule: Schedule, clock: Callable[[], datetime], months_ahead: int
) -> Job:
    """The scheduled job `month_partitions` of a service with partitioned tables: ensure_partitions_ahead
    over its metadata, reporting what it created."""

    def run() -> str:
        created = ensure_partitions_ahead(db, metadata, clock(), months_ahead)
        return f"{len(created)} partitions created" + (f": {', '.join(created)}" if created else "")

    return Job("month_partitions", schedule, run, timedelta(hours=1))
