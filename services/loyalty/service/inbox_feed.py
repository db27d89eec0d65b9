"""The feed events that care and the inbox act on. Profile's: a customer's branch, consent (whether an app
push may reach them), relationship manager, and care reminders due; feedback's: a complaint's status
changes and survey invitations. Each handler runs in the consumer's batch transaction; the event's
occurrence time stamps what it makes, and each occasion's key makes it once."""

import uuid
from collections.abc import Callable
from datetime import date

from pydantic import AwareDatetime, BaseModel
from sqlalchemy.orm import Session

from services.common.outbox import Event
from services.loyalty.service import care
from services.loyalty.service.notifications import notify
from services.loyalty.service.policy import Policy

Handler = Callable[[Session, Event, Policy], None]


class BranchOf(BaseModel):
    branch_code: str | None = None


class ConsentChanged(BaseModel):
    contactable_channels: list[str]


class ManagerAssigned(BaseModel):
    manager_id: str
    manager_branch_code: str


class ReminderDue(BaseModel):
    occasion_key: str
    kind: str
    due_on: date
    reference: str | None = None
    branch_code: str | None = None


class ComplaintEvent(BaseModel):
    complaint_id: str
    outcome: str | None = None
    reason: str | None = None
    due_at: AwareDatetime | None = None


class SurveyInvited(BaseModel):
    invitation_id: int
    survey_id: str
    reason: str | None = None
    complaint_id: str | None = None


def _subject(event: Event) -> uuid.UUID:
    return uuid.UUID(event.subject_id)  # the consumer passed over events whose subject is not a customer


def _on_branch(s: Session, event: Event, _policy: Policy) -> None:
    code = BranchOf.model_validate(event.data).branch_code
    if code:
        care.set_branch(s, _subject(event), code, event.occurred_at)


def _on_consent(s: Session, event: Event, _policy: Policy) -> None:
    channels = ConsentChanged.model_validate(event.data).contactable_channels
    care.set_app_push(s, _subject(event), "app_push" in channels, event.occurred_at)


def _on_manager(s: Session, event: Event, _policy: Policy) -> None:
    e = ManagerAssigned.model_validate(event.data)
    care.assign_manager(s, _subject(event), e.manager_id, e.manager_branch_code, event.occurred_at)


def _on_reminder(s: Session, event: Event, policy: Policy) -> None:
    e = ReminderDue.model_validate(event.data)
    if e.kind not in care.KINDS:
        return
    care.remind(
        s,
        customer_id=_subject(event),
        key=e.occasion_key,
        kind=e.kind,
        due_at=care.start_of(e.due_on, policy.zone),
        now=event.occurred_at,
        zone=policy.zone,
        reference=e.reference,
        branch_code=e.branch_code,
    )


# What a complainant is told at each status change, by event type.
COMPLAINT_MESSAGES: dict[str, tuple[str, str]] = {
    "complaint.opened": ("投诉已受理", "您的投诉已受理，我们将在 {due_on} 前答复您。"),
    "complaint.decided": ("投诉处理结果", "您的投诉已作出处理决定，请查看处理结果。"),
    "complaint.closed": ("投诉已办结", "您的投诉已办结，感谢您的反馈。"),
}
WITHDRAWN = ("投诉已撤回", "您的投诉已按您的要求撤回。")


def _on_complaint(s: Session, event: Event, policy: Policy) -> None:
    e = ComplaintEvent.model_validate(event.data)
    if event.subject_id == e.complaint_id:
        return  # a complaint without a customer record: nobody's inbox
    title, body = COMPLAINT_MESSAGES[event.type]
    if event.type == "complaint.closed" and e.reason == "withdrawn":
        title, body = WITHDRAWN
    due_on = e.due_at.astimezone(policy.zone).date().isoformat() if e.due_at else ""
    notify(
        s,
        customer_id=_subject(event),
        key=f"{event.type}:{e.complaint_id}",
        kind="complaint_status",
        title=title,
        body=body.format(due_on=due_on),
        now=event.occurred_at,
        data={"complaint_id": e.complaint_id, "status": event.type.removeprefix("complaint."), "outcome": e.outcome},
    )


def _on_invited(s: Session, event: Event, _policy: Policy) -> None:
    e = SurveyInvited.model_validate(event.data)
    after_complaint = e.reason == "complaint_closed"
    notify(
        s,
        customer_id=_subject(event),
        key=f"survey.invited:{e.invitation_id}",
        kind="survey_invitation",
        title="满意度调查邀请",
        body="您的投诉已办结，诚邀您评价本次处理的满意度。"
        if after_complaint
        else "诚邀您参加满意度调查，您的意见对我们很重要。",
        now=event.occurred_at,
        data={"survey_id": e.survey_id, "complaint_id": e.complaint_id, "reason": e.reason},
    )


PROFILE: dict[str, Handler] = {
    "customer.registered": _on_branch,
    "customer.updated": _on_branch,
    "consent.changed": _on_consent,
    "customer.manager_assigned": _on_manager,
    "care.reminder_due": _on_reminder,
}
FEEDBACK: dict[str, Handler] = {
    "complaint.opened": _on_complaint,
    "complaint.decided": _on_complaint,
    "complaint.closed": _on_complaint,
    "survey.invited": _on_invited,
}
