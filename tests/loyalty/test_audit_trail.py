"""Loyalty's audit chain: each staff adjustment of points has its record (earning from transactions
does not); an adjustment edited by hand is named by verify."""

from sqlalchemy import select, update

from services.common.audit_chain import verify
from services.common.personal_data import access_mirror
from services.loyalty.models import ADJUSTMENTS, LedgerEntry, audit_chain, personal_data_access
from tests.loyalty import factories as f


def test_each_adjustment_has_its_record_and_an_edit_is_named(client, auth, loyalty_db):
    cid = f.funded(client, auth, 500)
    taken = client.post(
        f"/v1/loyalty/accounts/{cid}/adjustments",
        json={"points": -200, "reason": "错误入账更正"},
        headers=auth("staff"),
    )
    assert taken.status_code == 201, taken.text
    with loyalty_db.read() as s:
        records = s.execute(select(audit_chain).order_by(audit_chain.c.seq)).mappings().all()
    assert [(r["action"], r["subject"], r["detail"]["columns"]["points"]) for r in records] == [
        ("points.adjusted", cid, 500),
        ("points.adjusted", cid, -200),
    ]
    assert [r["actor_role"] for r in records] == ["supervisor", "staff"] and "错误" not in str(records)
    with loyalty_db.read() as s:
        assert verify(s, audit_chain, [ADJUSTMENTS]).intact
    with loyalty_db.write() as s:
        s.execute(update(LedgerEntry).where(LedgerEntry.points == -200).values(points=-20, balance_after=480))
        s.commit()
    with loyalty_db.read() as s:
        verdict = verify(s, audit_chain, [ADJUSTMENTS])
    assert verdict.problem is not None and "was altered (balance_after, points)" in verdict.problem


def test_an_export_of_a_persons_data_is_in_the_chain(client, auth, loyalty_db):
    cid = f.enrol(client, auth)
    assert client.get(f"/v1/personal-data/{cid}", headers=auth("customer", sub=cid)).status_code == 200
    mirror = access_mirror(personal_data_access)
    with loyalty_db.read() as s:
        records = s.execute(select(audit_chain).order_by(audit_chain.c.seq)).mappings().all()
        assert verify(s, audit_chain, [ADJUSTMENTS, mirror]).intact
    assert [(r["action"], r["subject"], r["actor_role"]) for r in records] == [
        ("personal_data.exported", cid, "customer")
    ]
    with loyalty_db.write() as s:
        s.execute(update(personal_data_access).values(actor_sub="someone-else"))
        s.commit()
    with loyalty_db.read() as s:
        verdict = verify(s, audit_chain, [ADJUSTMENTS, mirror])
    assert verdict.problem is not None and "personal_data_access row" in verdict.problem
