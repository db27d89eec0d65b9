"""What feedback does when profile erases a customer (`customer.erased`, PIPL art. 47). Complaints are
kept for their retention period (the regulator's handling record: state, dates, cause, branch,
amounts, who acted), but the complainant's name and contact go, and so does the free text they or
staff typed about them: the description becomes ERASED, step notes and follow-up notes are cleared.
Survey responses keep their scores for the statistics, without their free-text answers. The local
copies of the customer's attributes and classes are deleted. docs/privacy.md lists it all."""

from typing import Any

from sqlalchemy import Select, delete, select, update
from sqlalchemy.orm import Session

from services.common.approvals import redact as redact_approvals
from services.common.db import table_of
from services.common.pii import ERASED
from services.feedback.models import (
    Complaint,
    ComplaintStep,
    CustomerRef,
    CustomerSegment,
    FollowUp,
    SurveyAnswer,
    SurveyResponse,
    approval,
)
from services.feedback.service.free_text import redact_step_data

COMPLAINT = table_of(Complaint)
STEP = table_of(ComplaintStep)
RESPONSE = table_of(SurveyResponse)
ANSWER = table_of(SurveyAnswer)
FOLLOW_UP = table_of(FollowUp)


def erase_customer(s: Session, customer_id: str) -> None:
    """In the consumer's transaction, with the cursor's move past the event."""
    redact_complaints(s, select(COMPLAINT.c.id).where(COMPLAINT.c.customer_id == customer_id))
    responses = select(RESPONSE.c.id).where(RESPONSE.c.customer_id == customer_id)
    s.execute(update(ANSWER).where(ANSWER.c.response_id.in_(responses)).values(text=None))
    s.execute(update(FOLLOW_UP).where(FOLLOW_UP.c.customer_id == customer_id).values(note=None))
    s.execute(delete(table_of(CustomerRef)).where(table_of(CustomerRef).c.customer_id == customer_id))
    s.execute(delete(table_of(CustomerSegment)).where(table_of(CustomerSegment).c.customer_id == customer_id))


def redact_complaints(s: Session, complaints: Select[tuple[Any]]) -> None:
    """The complainant's details and every free text of the selected complaints go; the handling
    record stays (erasure, and the retention sweep once a complaint's period has ended)."""
    s.execute(
        update(COMPLAINT)
        .where(COMPLAINT.c.id.in_(complaints))
        .values(complainant_name_enc=None, complainant_contact_enc=None, representative_enc=None, description=ERASED)
    )
    steps = s.execute(select(STEP.c.id, STEP.c.data).where(STEP.c.complaint_id.in_(complaints))).all()
    for step_id, data in steps:
        s.execute(update(STEP).where(STEP.c.id == step_id).values(note=None, data=redact_step_data(data)))
    # An extension waiting for (or past) approval holds the reason and note typed: they go too.
    redact_approvals(s, approval, [str(i) for i in s.execute(complaints).scalars()])
