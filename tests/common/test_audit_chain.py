"""The audit chain: appends are gapless and ordered under concurrent writers; verify names the first
record altered, removed or reordered, a mirrored row altered, deleted or written around the chain,
and a chain rewritten since a head was recorded."""

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import BigInteger, Column, MetaData, String, Table, delete, insert, select, update

from services.common.audit_chain import GENESIS, Mirror, append, audit_chain_table, head, verify
from services.common.db import UTCDateTime

T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
def tables(fresh_db):
    md = MetaData()
    chain = audit_chain_table(md)
    log = Table(
        "access_log",
        md,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("action", String(40), nullable=False),
        Column("at", UTCDateTime(), nullable=False),
        Column("reason", String(200), nullable=True),
    )
    md.create_all(fresh_db.engine)
    return chain, Mirror(log, "id", ("action", "at"))


def _write(db, chain, mirror, n: int, start: int = 1, action: str = "personal_data.read") -> None:
    for i in range(start, start + n):
        with db.write() as s:
            row = {"id": i, "action": action, "at": T0 + timedelta(seconds=i), "reason": "核对身份"}
            s.execute(insert(mirror.table).values(**row))
            append(
                s,
                chain,
                action=row["action"],
                actor_sub="staff-1",
                actor_role="staff",
                subject=f"c{i}",
                at=row["at"],
                detail=mirror.detail(row),
            )
            s.commit()


def _verdict(db, chain, mirror, expect=None):
    with db.read() as s:
        return verify(s, chain, [mirror], expect)


def test_an_untouched_chain_is_intact_and_its_head_is_the_last_record(fresh_db, tables):
    chain, mirror = tables
    assert head(fresh_db, chain) == (0, GENESIS)
    _write(fresh_db, chain, mirror, 5)
    v = _verdict(fresh_db, chain, mirror)
    assert v.intact and v.records == 5 and (v.head_seq, v.head_digest) == head(fresh_db, chain)
    with fresh_db.read() as s:
        rows = s.execute(select(chain).order_by(chain.c.seq)).mappings().all()
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["prev_digest"] == GENESIS and all(
        b["prev_digest"] == a["digest"] for a, b in itertools.pairwise(rows)
    )
    assert "核对身份" not in str(rows)  # free text never enters the chain


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (
            lambda s, c, m: s.execute(update(c).where(c.c.seq == 3).values(actor_sub="someone-else")),
            "record 3 was altered",
        ),
        (lambda s, c, m: s.execute(delete(c).where(c.c.seq == 3)), "record 3 is missing"),
        (lambda s, c, m: s.execute(delete(c).where(c.c.seq == 5)), "access_log row 5 has no record"),
        (lambda s, c, m: s.execute(update(c).where(c.c.seq == 4).values(seq=40)), "record 4 is missing"),
        (
            lambda s, c, m: s.execute(update(m.table).where(m.table.c.id == 2).values(action="x")),
            "access_log row 2 was altered (action)",
        ),
        (
            lambda s, c, m: s.execute(delete(m.table).where(m.table.c.id == 4)),
            "access_log row 4 it records was deleted",
        ),
        (lambda s, c, m: s.execute(insert(m.table).values(id=9, action="x", at=T0)), "access_log row 9 has no record"),
    ],
)
def test_verify_names_the_first_broken_record(fresh_db, tables, tamper, problem):
    chain, mirror = tables
    _write(fresh_db, chain, mirror, 5)
    with fresh_db.write() as s:
        tamper(s, chain, mirror)
        s.commit()
    v = _verdict(fresh_db, chain, mirror)
    assert not v.intact and problem in v.problem, v.problem


def test_swapping_two_records_is_found(fresh_db, tables):
    chain, mirror = tables
    _write(fresh_db, chain, mirror, 4)
    with fresh_db.write() as s:
        rows = {r["seq"]: dict(r) for r in s.execute(select(chain)).mappings()}
        s.execute(delete(chain).where(chain.c.seq.in_([2, 3])))
        s.execute(insert(chain).values(**{**rows[3], "seq": 2}))
        s.execute(insert(chain).values(**{**rows[2], "seq": 3}))
        s.commit()
    assert "record 2 does not follow record 1" in _verdict(fresh_db, chain, mirror).problem


def test_a_chain_recomputed_after_an_edit_fails_against_a_recorded_head(fresh_db, tables):
    chain, mirror = tables
    _write(fresh_db, chain, mirror, 3)
    seq, digest = head(fresh_db, chain)
    with fresh_db.write() as s:  # someone rewrites history and recomputes every digest
        s.execute(delete(chain))
        s.execute(delete(mirror.table))
        s.commit()
    _write(fresh_db, chain, mirror, 3, action="personal_data.exported")
    assert _verdict(fresh_db, chain, mirror).intact  # consistent in itself
    v = _verdict(fresh_db, chain, mirror, {seq: digest})
    assert v.problem == f"record {seq} is not the one recorded earlier: the chain was rewritten from there"


def test_concurrent_appenders_get_gapless_positions(fresh_db, tables):
    chain, mirror = tables
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            _write(fresh_db, chain, mirror, 10, start=1 + n * 100)
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    v = _verdict(fresh_db, chain, mirror)
    assert v.intact and v.records == 40
