"""Campaigns: creation (the template's variables checked), the dry run (how many are left after each
filter), and the launch a supervisor approves (dual control: the approval executes it), which takes the
audience at that moment, filters it and queues one outreach record per customer in one statement."""

import string
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, false, func, insert, literal, not_, select, text, true
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.approvals import Approval, ApprovalBook, Executor
from services.common.auth import Principal
from services.common.branches import subtree_codes
from services.common.db import Database
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.common.outbox import record_event
from services.common.pagination import newest_first, page_of, time_id_key
from services.loyalty.models import Campaign, CustomerReach, CustomerSegment, Outreach, branch, outbox
from services.loyalty.service.classes import ClassCatalogue

LAUNCH = "campaign.launch"
# The variables a template may use, with what each becomes at sending.
VARIABLES = {
    "points_balance": "the customer's points balance",
    "tier": "the customer's tier",
    "campaign_name": "the campaign's name",
    "product_code": "the promoted product's code",
    "send_until_date": "the last day of the sending window (YYYY-MM-DD, the bank's calendar)",
}
# A campaign's channel as profile names it in contactability (a phone task is a call by the manager).
PROFILE_CHANNEL = {"sms": "sms", "app_push": "app_push", "email": "email", "phone_task": "phone_call"}
# The launch's own transaction may sort and hash its audience in memory (PostgreSQL's SET LOCAL): a
# million customers take about 120 MB; a larger audience spills to disk, still in order.
LAUNCH_WORK_MEM = "256MB"
FILTERS = ("audience", "do_not_contact", "consent", "contactability", "frequency_cap")


def campaign_not_found(campaign_id: Any) -> NotFound:
    return NotFound(f"No campaign {campaign_id}", code="campaign_not_found")


def template_errors(template: str) -> list[dict[str, Any]]:
    """422 items for a template that names an unknown variable or formats one (only `{name}` is allowed)."""
    errors: list[dict[str, Any]] = []
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as err:
        return [{"loc": ["body", "template"], "msg": f"not a template: {err}", "type": "template_invalid"}]
    for _text, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in VARIABLES or spec or conversion:
            known = ", ".join(VARIABLES)
            errors.append(
                {
                    "loc": ["body", "template"],
                    "msg": f"unknown variable {{{name}}}; the variables are {known}",
                    "type": "template_variable_unknown",
                }
            )
    return errors


def render(template: str, values: dict[str, str]) -> str:
    return template.format_map(values)


def _checked_window(fields: dict[str, Any]) -> None:
    if fields["send_until"] <= fields["send_from"]:
        raise InvalidInput([{"loc": ["body", "send_until"], "msg": "must be after send_from", "type": "window"}])


def create_campaign(
    db: Database, *, fields: dict[str, Any], classes: ClassCatalogue, actor: Principal, now: datetime
) -> Campaign:
    """422 for an unknown template variable, an audience that is no class, a window that ends first; 403
    branch_required for staff whose token names no branch (only the head office's admin speaks for the bank)."""
    if actor.role != "admin" and not actor.branch:
        raise Forbidden("A campaign belongs to your branch, and your token names none", code="branch_required")
    errors = template_errors(fields["template"])
    if errors:
        raise InvalidInput(errors)
    _checked_window(fields)
    classes.check("audience", [fields["audience"]])
    with db.write() as s:
        campaign = Campaign(
            **fields,
            branch_code=None if actor.role == "admin" else actor.branch,
            created_by=actor.sub,
            created_at=now,
        )
        s.add(campaign)
        s.commit()
        s.refresh(campaign)
        return campaign


def _in_reach(campaign: Campaign | None, reach: set[str] | None) -> bool:
    return campaign is not None and (reach is None or campaign.branch_code in reach)


def require_campaign(s: Session, campaign_id: uuid.UUID, reach: set[str] | None, lock: bool = False) -> Campaign:
    """404 when absent or outside the caller's branch subtree (`reach`; None: every branch)."""
    campaign = s.get(Campaign, campaign_id, with_for_update=lock)
    if campaign is None or not _in_reach(campaign, reach):
        raise campaign_not_found(campaign_id)
    return campaign


def read_campaign(db: Database, *, campaign_id: uuid.UUID, reach: set[str] | None) -> Campaign:
    with db.read() as s:
        return require_campaign(s, campaign_id, reach)


def list_campaigns(
    db: Database, *, reach: set[str] | None, status: str | None, limit: int, cursor: str | None
) -> tuple[list[Campaign], str | None]:
    """Newest first; a branch-bound caller sees its subtree's campaigns."""
    stmt = select(Campaign)
    if reach is not None:
        stmt = stmt.where(col(Campaign.branch_code).in_(reach))
    if status is not None:
        stmt = stmt.where(Campaign.status == status)
    stmt = newest_first(stmt, Campaign.created_at, Campaign.id, cursor, limit)
    with db.read() as s:
        rows = list(s.execute(stmt).scalars())
    return page_of(rows, limit, time_id_key("created_at"))


def _audience(campaign: Campaign) -> tuple[str, str]:
    scheme, _, class_name = campaign.audience.rpartition(":")
    return scheme, class_name


def _conditions(s: Session, campaign: Campaign, now: datetime, cap: int, cap_days: int) -> list[Any]:
    """Each filter's condition on (customer_segment cs, customer_reach r), in FILTERS order after the audience."""
    r = CustomerReach.__table__.c  # type: ignore[attr-defined]
    tag = f"%,{PROFILE_CHANNEL[campaign.channel]},%"
    no_flag = func.coalesce(r.do_not_contact, false()) == false()
    consent = r.marketing_channels.like(tag) if campaign.purpose == "marketing" else true()
    reachable = and_(r.is_active == true(), r.reachable_channels.like(tag))
    capped: Any = true()
    if campaign.purpose == "marketing":
        o = Outreach.__table__.c  # type: ignore[attr-defined]
        recent = (
            select(o.customer_id)
            .where(o.purpose == "marketing", o.queued_at >= now - timedelta(days=cap_days), o.state != "failed")
            .group_by(o.customer_id)
            .having(func.count() >= cap)
        )
        capped = not_(CustomerSegment.customer_id.in_(recent))  # type: ignore[attr-defined]
    return [no_flag, consent, reachable, capped]


def _audience_query(s: Session, campaign: Campaign) -> Any:
    scheme, class_name = _audience(campaign)
    r = CustomerReach.__table__  # type: ignore[attr-defined]
    stmt = (
        select(CustomerSegment.customer_id)
        .select_from(CustomerSegment)
        .outerjoin(r, r.c.customer_id == CustomerSegment.customer_id)
        .where(CustomerSegment.scheme == scheme, CustomerSegment.class_name == class_name)
    )
    if campaign.branch_code is not None:  # a branch's campaign reaches its own subtree's customers only
        stmt = stmt.where(r.c.branch_code.in_(subtree_codes(s, branch, campaign.branch_code)))
    return stmt


def funnel(s: Session, campaign: Campaign, now: datetime, cap: int, cap_days: int) -> dict[str, int]:
    """How many are left after each filter (FILTERS), counted in one pass."""
    conditions = _conditions(s, campaign, now, cap, cap_days)
    sums = [func.count()]
    for i in range(1, len(conditions) + 1):
        sums.append(func.coalesce(func.sum(case((and_(*conditions[:i]), 1), else_=0)), 0))
    stmt = _audience_query(s, campaign).with_only_columns(*sums)
    row = s.execute(stmt).one()
    return {name: int(n) for name, n in zip(FILTERS, row, strict=True)}


def dry_run(
    db: Database, *, campaign_id: uuid.UUID, reach: set[str] | None, now: datetime, cap: int, cap_days: int
) -> dict[str, int]:
    with db.read() as s:
        return funnel(s, require_campaign(s, campaign_id, reach), now, cap, cap_days)


def request_launch(
    db: Database, book: ApprovalBook, *, campaign_id: uuid.UUID, reach: set[str] | None, actor: Principal, now: datetime
) -> Approval:
    """A pending approval request for the launch (a supervisor other than the maker approves it). 409
    campaign_not_draft once launched or cancelled, campaign_window_closed past its window, approval_pending."""
    with db.read() as s:
        campaign = require_campaign(s, campaign_id, reach)
        _launchable(campaign, now)
    return book.request_alone(
        db,
        action=LAUNCH,
        object_id=str(campaign_id),
        payload={"campaign_id": str(campaign_id)},
        why="launch",
        maker=actor,
        now=now,
    )


def _launchable(campaign: Campaign, now: datetime) -> None:
    if campaign.status != "draft":
        raise Conflict(f"The campaign is {campaign.status}", code="campaign_not_draft")
    if campaign.send_until <= now:
        raise Conflict("The campaign's sending window has passed", code="campaign_window_closed")


def launch(s: Session, campaign: Campaign, *, actor: Principal, now: datetime, cap: int, cap_days: int) -> dict:
    """Counts the funnel, queues one outreach record per customer left, marks the campaign launched and
    records campaign.launched: all in the caller's transaction."""
    _launchable(campaign, now)
    counts = funnel(s, campaign, now, cap, cap_days)
    conditions = _conditions(s, campaign, now, cap, cap_days)
    chosen = _audience_query(s, campaign).where(*conditions)
    columns = ["campaign_id", "customer_id", "channel", "purpose", "state", "attempts"]
    columns += ["next_attempt_at", "queued_at", "updated_at"]
    values = chosen.with_only_columns(
        literal(campaign.id, Outreach.__table__.c.campaign_id.type),  # type: ignore[attr-defined]
        CustomerSegment.customer_id,
        literal(campaign.channel),
        literal(campaign.purpose),
        literal("queued"),
        literal(0),
        literal(max(now, campaign.send_from), Outreach.__table__.c.next_attempt_at.type),  # type: ignore[attr-defined]
        literal(now, Outreach.__table__.c.queued_at.type),  # type: ignore[attr-defined]
        literal(now, Outreach.__table__.c.updated_at.type),  # type: ignore[attr-defined]
    )
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text(f"SET LOCAL work_mem = '{LAUNCH_WORK_MEM}'"))  # noqa: S608 - a constant
    # in the customers' order, the two indexes that lead with the customer grow page by page rather than
    # at random pages across the table (a million random inserts thrash the buffer cache)
    s.execute(insert(Outreach).from_select(columns, values.order_by(CustomerSegment.customer_id)))
    campaign.status, campaign.funnel = "launched", counts
    campaign.launched_by, campaign.launched_at = actor.sub, now
    record_event(
        s,
        outbox,
        type="campaign.launched",
        subject_id=str(campaign.id),
        data={
            "campaign_id": str(campaign.id),
            "channel": campaign.channel,
            "purpose": campaign.purpose,
            "audience": campaign.audience,
            "branch_code": campaign.branch_code,
            "queued": counts["frequency_cap"],
            "funnel": counts,
            "launched_at": now.isoformat().replace("+00:00", "Z"),
        },
        occurred_at=now,
    )
    return counts


def launch_executor(cap: int, cap_days: int) -> Executor:
    def launch_approved(s: Session, row: Approval, checker: Principal, now: datetime) -> dict[str, Any]:
        """Launches as the request says (409 when the campaign is no longer a draft or its window passed:
        the request stays pending and a checker rejects it)."""
        campaign = require_campaign(s, uuid.UUID(row["payload"]["campaign_id"]), None, lock=True)
        counts = launch(s, campaign, actor=checker, now=now, cap=cap, cap_days=cap_days)
        return {"queued": counts["frequency_cap"]}

    return launch_approved
