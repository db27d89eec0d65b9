"""Database.prepared_row: the hot read by key on a kept DB-API connection reads exactly what a
SQLAlchemy select reads, sees every committed write, and falls back where it must."""

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, insert, select, update

from services.common.db import Database, UTCDateTime

pytestmark = pytest.mark.anyio
metadata = MetaData()
thing = Table(
    "thing",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(20), nullable=False),
    Column("note", String(20)),
    Column("at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime()),
    Column("version", Integer, nullable=False),
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'kit.db'}")
    metadata.create_all(database.engine)
    yield database
    database.dispose()


def _add(db: Database, **values) -> uuid.UUID:
    key = uuid.uuid4()
    row = {
        "id": key,
        "name": "n",
        "note": None,
        "at": datetime(2026, 11, 28, 8, 30, 1, 123456, tzinfo=UTC),
        "closed_at": None,
        "version": 1,
        **values,
    }
    with db.write() as s:
        s.execute(insert(thing).values(**row))
        s.commit()
    return key


async def test_reads_the_same_values_as_sqlalchemy(db):
    read = db.prepared_row(thing, "id")
    assert read.direct  # a SQLite file: the kept-connection path
    for values in ({}, {"note": "有", "closed_at": datetime(2027, 1, 2, tzinfo=UTC), "version": 7}):
        key = _add(db, **values)
        row = await read(key)
        reference = db.first_row(select(thing).where(thing.c.id == key))
        assert tuple(row) == tuple(reference)
        assert row.at.tzinfo is UTC and isinstance(row.id, uuid.UUID)
        assert row._fields == tuple(reference._fields)


async def test_missing_key_is_none(db):
    assert await db.prepared_row(thing, "id")(uuid.uuid4()) is None


async def test_sees_writes_committed_after_its_first_read(db):
    read = db.prepared_row(thing, "id")
    key = _add(db)
    assert (await read(key)).version == 1
    with db.write() as s:
        s.execute(update(thing).where(thing.c.id == key).values(version=2))
        s.commit()
    assert (await read(key)).version == 2


async def test_dispose_closes_its_connections(db):
    read = db.prepared_row(thing, "id")
    key = _add(db)
    await read(key)
    kept = read._opened[0].driver_connection
    db.dispose()
    with pytest.raises(Exception, match="closed"):
        kept.execute("SELECT 1")


async def test_bound_to_a_connection_it_reads_through_sqlalchemy(db):
    with db.engine.connect() as conn:
        bound = Database(connection=conn)
        read = bound.prepared_row(thing, "id")
        assert not read.direct
        key = uuid.uuid4()
        conn.execute(insert(thing).values(id=key, name="n", at=datetime.now(UTC), version=3))  # not committed
        assert (await read(key)).version == 3
