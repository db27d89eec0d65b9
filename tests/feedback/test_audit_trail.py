"""Feedback's audit chain: every complaint step (decisions included) has its record; a step edited or
deleted by hand, or one written around the chain, is named by verify."""

import pytest
from sqlalchemy import delete, insert, select, update

from services.common.audit_chain import verify
from services.feedback.models import COMPLAINT_STEPS, ComplaintStep, audit_chain
from tests.feedback import factories as f


@pytest.fixture
def decided(client, auth):
    c = f.file(client, auth("staff"))
    f.to_decided(client, auth("staff"), c["id"])
    return c


def _verdict(db):
    with db.read() as s:
        return verify(s, audit_chain, [COMPLAINT_STEPS])


def test_each_step_has_its_record(feedback_db, decided):
    with feedback_db.read() as s:
        records = s.execute(select(audit_chain).order_by(audit_chain.c.seq)).mappings().all()
        steps = s.execute(select(ComplaintStep).order_by(ComplaintStep.id)).scalars().all()
    assert [r["action"] for r in records] == [f"complaint.{s.action}" for s in steps]
    assert "complaint.decide" in [r["action"] for r in records] and {r["subject"] for r in records} == {decided["id"]}
    assert "态度" not in str(records)  # the description and notes stay out of the chain
    assert _verdict(feedback_db).intact


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (
            lambda s, last: s.execute(
                update(ComplaintStep).where(ComplaintStep.id == last.id).values(to_state="closed")
            ),
            "(to_state)",
        ),
        (lambda s, last: s.execute(delete(ComplaintStep).where(ComplaintStep.id == last.id)), "it records was deleted"),
        (
            lambda s, last: s.execute(
                insert(ComplaintStep).values(
                    complaint_id=last.complaint_id,
                    action="close",
                    from_state="decided",
                    to_state="closed",
                    actor_sub="ghost",
                    actor_role="staff",
                    at=last.at,
                    data={},
                )
            ),
            "has no record in the audit chain",
        ),
    ],
)
def test_a_hand_edit_is_named(feedback_db, decided, tamper, problem):
    with feedback_db.write() as s:
        last = s.execute(select(ComplaintStep).order_by(ComplaintStep.id.desc())).scalars().first()
        tamper(s, last)
        s.commit()
    verdict = _verdict(feedback_db)
    assert not verdict.intact and problem in verdict.problem, verdict.problem
