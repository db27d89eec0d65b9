"""Profile's audit chain: every access-log row (reveals, corrections, exports, erasures) has its
record, in the same transaction; an access-log row edited or deleted by hand, or a chain record
changed, is named by verify, as `make audit-verify` runs it."""

import pytest
from sqlalchemy import delete, select, update

from services.common.audit_chain import verify
from services.profile.models import ACCESS_LOG, AuditEntry, audit_chain
from tests.profile import factories as f


@pytest.fixture
def revealed(client, auth):
    c = f.register(client, auth("staff"), f.individual(name="审计甲"))
    for reason in ("核对客户身份", "客户来电核实"):
        resp = client.get(
            f"/v1/customers/{c['id']}/personal-data", params={"reason": reason}, headers=auth("supervisor")
        )
        assert resp.status_code == 200
    return c


def _verdict(db):
    with db.read() as s:
        return verify(s, audit_chain, [ACCESS_LOG])


def test_each_access_log_row_has_its_record(profile_app, revealed):
    db = profile_app.state.db
    with db.read() as s:
        records = s.execute(select(audit_chain).order_by(audit_chain.c.seq)).mappings().all()
        rows = s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
    assert [(r["action"], r["subject"], r["actor_role"]) for r in records] == [
        ("personal_data.read", revealed["id"], "supervisor")
    ] * 2
    assert [r["detail"]["row"] for r in records] == [e.id for e in rows]
    assert "核对客户身份" not in str(records) and "审计甲" not in str(records)  # no free text, no personal values
    assert _verdict(db).intact


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (
            lambda first: update(AuditEntry).where(AuditEntry.id == first).values(actor_sub="nobody"),
            "was altered (actor_sub)",
        ),
        (lambda first: delete(AuditEntry).where(AuditEntry.id == first), "it records was deleted"),
        (lambda first: update(audit_chain).where(audit_chain.c.seq == 1).values(action="x"), "record 1 was altered"),
    ],
)
def test_a_hand_edit_is_named(profile_app, revealed, tamper, problem):
    db = profile_app.state.db
    with db.write() as s:
        first = s.execute(select(AuditEntry.id).order_by(AuditEntry.id)).scalars().first()
        s.execute(tamper(first))
        s.commit()
    verdict = _verdict(db)
    assert not verdict.intact and problem in verdict.problem, verdict.problem
