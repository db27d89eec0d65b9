"""The retention sweep (through the job runner, with the injected clock): a finished complaint keeps
its handling record but loses the complainant's details and every free text once its period has
passed since its last step; free-text survey answers and follow-up notes are cleared after theirs.
Younger records are untouched."""

import uuid

from sqlalchemy import select

from services.feedback.models import Complaint, ComplaintStep, FollowUp, SurveyAnswer
from services.feedback.service.free_text import DESCRIPTION_FIELD
from services.feedback.service.jobs import build_jobs
from tests.feedback import factories as f
from tests.feedback.conftest import feedback_settings

SETTINGS = {
    "retention_complaint_years": 3,
    "retention_survey_text_years": 2,
    "job_retention_sweep_schedule": "every 3600s",
}


def _finished(client, staff, description: str) -> str:
    c = f.file(
        client,
        staff,
        f.complaint(description=description, customer_id=None, complainant={"name": "王五", "contact": "13912345678"}),
    )
    f.to_decided(client, staff, c["id"])
    f.step(client, staff, c["id"], "close", note="已电话告知王五")
    return c["id"]


def _row(db, cid: str) -> tuple[Complaint, list[ComplaintStep]]:
    with db.read() as s:
        c = s.execute(select(Complaint).where(Complaint.id == uuid.UUID(cid))).scalar_one()  # type: ignore[arg-type]
        steps = s.execute(select(ComplaintStep).where(ComplaintStep.complaint_id == c.id)).scalars().all()
        return c, list(steps)


def test_the_sweep_redacts_what_is_past_its_retention(client, auth, feedback_app, feedback_db, clock):
    staff = auth("staff")
    old = _finished(client, staff, "旧投诉：客户身份证110105198001010011")
    survey = f.published_survey(client, staff)
    customer = auth("customer", sub=f.known_customer(client))
    answered = f.answer(client, customer, survey["id"], nps=2, comment="经理电话13700001111")
    done = client.post(
        f"/v1/follow-ups/{answered['follow_up_id']}/outcome",
        json={"outcome": "reached_resolved", "note": "回访王五"},
        headers=staff,
    )
    assert done.status_code == 200
    clock.advance(days=365 * 2 + 30)  # the survey text is past 2 years, the old complaint not yet past 3
    young = _finished(client, staff, "新投诉：仍在保存期内")
    open_ = f.file(client, staff, f.complaint(description="未办结的投诉"))

    settings = feedback_settings(feedback_db.url, **SETTINGS)
    runner = build_jobs(settings, feedback_db, feedback_app.state.complaints, clock, feedback_app.state.approvals)
    assert runner.tick() == []  # a new installation starts with the next window
    clock.advance(hours=1)
    assert "retention_sweep" in runner.tick()
    with feedback_db.read() as s:
        assert s.execute(select(SurveyAnswer.text).where(SurveyAnswer.text.is_not(None))).all() == []  # type: ignore[union-attr]
        assert [n for (n,) in s.execute(select(FollowUp.note))] == [None]
    plain = feedback_app.state.complaints.vault.unseal  # descriptions are stored encrypted
    assert plain(_row(feedback_db, old)[0].description, DESCRIPTION_FIELD) == "旧投诉：客户身份证110105198001010011"

    clock.advance(days=366)  # the old complaint's last step is now over 3 years ago, the young one's not
    assert "retention_sweep" in runner.tick()
    c, steps = _row(feedback_db, old)
    assert (c.description, c.complainant_name_enc, c.complainant_contact_enc) == ("[erased]", None, None)
    assert c.state == "closed" and c.amount_fen == 12050 and c.cause == "service_attitude"  # the handling record stays
    assert all(s.note is None for s in steps) and steps[-1].to_state == "closed"
    decided = next(s for s in steps if s.action == "decide")
    assert decided.data["facts_verified"] == "[erased]" and decided.data["outcome"] == "partly_upheld"
    assert plain(_row(feedback_db, young)[0].description, DESCRIPTION_FIELD) == "新投诉：仍在保存期内"
    assert plain(_row(feedback_db, open_["id"])[0].description, DESCRIPTION_FIELD) == "未办结的投诉"
