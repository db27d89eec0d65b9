"""Everything feedback holds about one person, for the personal-data export: complaints with every
step (the complainant's own values in full), survey responses with every answer, follow-ups, survey
invitations, and who exported it before; the export is written to the access log in the same
transaction."""

import json
import uuid
from datetime import datetime

from sqlalchemy import select
from sqlmodel import col

from services.common.auth import Principal
from services.common.db import Database
from services.common.personal_data import record_export
from services.feedback.models import (
    Complaint,
    ComplaintStep,
    FollowUp,
    SurveyAnswer,
    SurveyInvitation,
    SurveyResponse,
    audit_chain,
    personal_data_access,
)
from services.feedback.schemas.complaints import RepresentativeRead
from services.feedback.schemas.personal_data import (
    ExportedAnswer,
    ExportedComplaint,
    ExportedInvitation,
    ExportedResponse,
    FeedbackPersonalData,
)
from services.feedback.service.complaints import (
    CONTACT_FIELD,
    NAME_FIELD,
    REP_FIELD,
    ComplaintContext,
    present_complaint,
    steps_by_complaint,
)
from services.feedback.service.follow_ups import present_follow_up
from services.feedback.service.free_text import ANSWER_FIELD


def export_customer(
    db: Database, *, customer_id: uuid.UUID, actor: Principal, ctx: ComplaintContext, now: datetime
) -> FeedbackPersonalData:
    """Oldest first throughout; empty when feedback holds nothing about the customer."""
    cid = str(customer_id)
    with db.write() as s:
        access = record_export(s, personal_data_access, customer_id=cid, actor=actor, now=now, chain=audit_chain)
        complaints = list(
            s.execute(
                select(Complaint).where(Complaint.customer_id == cid).order_by(Complaint.received_at, Complaint.id)
            ).scalars()
        )
        steps = steps_by_complaint(s, [c.id for c in complaints])
        responses = list(
            s.execute(
                select(SurveyResponse)
                .where(SurveyResponse.customer_id == cid)
                .order_by(SurveyResponse.responded_at, SurveyResponse.id)
            ).scalars()
        )
        answers: dict[uuid.UUID, list[ExportedAnswer]] = {r.id: [] for r in responses}
        for a in s.execute(
            select(SurveyAnswer).where(col(SurveyAnswer.response_id).in_(list(answers))).order_by(SurveyAnswer.id)
        ).scalars():
            answers[a.response_id].append(
                ExportedAnswer(
                    question_id=a.question_id,
                    value_int=a.value_int,
                    choice=a.choice,
                    text=ctx.vault.unseal(a.text, ANSWER_FIELD),
                )
            )
        follow_ups = s.execute(
            select(FollowUp).where(FollowUp.customer_id == cid).order_by(FollowUp.created_at, FollowUp.id)
        ).scalars()
        invitations = s.execute(
            select(SurveyInvitation).where(SurveyInvitation.customer_id == cid).order_by(SurveyInvitation.id)
        ).scalars()
        data = FeedbackPersonalData(
            complaints=[_in_full(c, steps[c.id], ctx) for c in complaints],
            survey_responses=[
                ExportedResponse.model_validate({**_columns(r), "answers": answers[r.id]}) for r in responses
            ],
            follow_ups=[present_follow_up(f, ctx.vault, full=True) for f in follow_ups],
            survey_invitations=[ExportedInvitation.model_validate(i) for i in invitations],
            access_log=access,
        )
        s.commit()
        return data


def _columns(row: SurveyResponse) -> dict:
    return {name: getattr(row, name) for name in ExportedResponse.model_fields if name != "answers"}


def _in_full(c: Complaint, steps: list[ComplaintStep], ctx: ComplaintContext) -> ExportedComplaint:
    """The complaint as staff read it, with the values they see masked given in full."""
    v = ctx.vault
    read = present_complaint(c, steps, ctx, full=True).model_dump()
    rep = json.loads(v.decrypt(c.representative_enc, REP_FIELD)) if c.representative_enc else None
    read |= {
        "complainant_name": v.decrypt(c.complainant_name_enc, NAME_FIELD) if c.complainant_name_enc else None,
        "complainant_contact": v.decrypt(c.complainant_contact_enc, CONTACT_FIELD)
        if c.complainant_contact_enc
        else None,
        "representative": RepresentativeRead(kind=rep["kind"], name=rep["name"], proof_ref=rep["proof_ref"])
        if rep
        else None,
    }
    return ExportedComplaint.model_validate(read)
