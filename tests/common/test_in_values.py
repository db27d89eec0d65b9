"""in_values: `column IN values` for values by the thousand finds exactly the rows an IN list finds, on
both databases, for string and UUID columns (on PostgreSQL the values travel as one array parameter)."""

import uuid

from sqlalchemy import Column, MetaData, String, Table, Uuid, insert, select

from services.common.db import in_values

metadata = MetaData()
item = Table("item", metadata, Column("id", Uuid, primary_key=True), Column("code", String(64), nullable=False))


def test_finds_exactly_the_stored_values_among_thousands(fresh_db):
    metadata.create_all(fresh_db.engine)
    rows = [{"id": uuid.uuid4(), "code": f"K-{i}:x.y"} for i in range(1500)]
    with fresh_db.write() as s:
        s.execute(insert(item), rows)
        s.commit()
    wanted_codes = [r["code"] for r in rows[::2]] + [f"NOPE-{i}" for i in range(500)]
    wanted_ids = {r["id"] for r in rows[1::3]} | {uuid.uuid4() for _ in range(10)}
    with fresh_db.read() as s:
        codes = set(s.execute(select(item.c.code).where(in_values(s, item.c.code, wanted_codes))).scalars())
        ids = set(s.execute(select(item.c.id).where(in_values(s, item.c.id, list(wanted_ids)))).scalars())
        none = s.execute(select(item.c.id).where(in_values(s, item.c.id, []))).all()
    assert codes == {r["code"] for r in rows[::2]}
    assert ids == {r["id"] for r in rows[1::3]}
    assert none == []
