"""Feed events for the inbox and care tests: the organisation tree as loyalty copies it, and profile's
and feedback's events about a customer."""

import uuid

from tests.loyalty import factories as f
from tests.organisation import TREE

HEAD_OFFICE = ("HQ0001", "总行", "head_office", None)


def tree_events() -> list:
    return [
        f.event(
            "branch.created",
            code,
            {"code": code, "name": name, "level": level, "parent_code": parent, "status": "open", "version": 1},
        )
        for code, name, level, parent in (HEAD_OFFICE, *TREE)
    ]


def registered(cid: str, branch: str = "BJ0001"):
    data = {
        "customer_no": "C00000000001",
        "type": "individual",
        "region_type": "urban",
        "province": "北京",
        "city": "北京",
        "branch_code": branch,
        "status": "active",
    }
    return f.event("customer.registered", cid, data)


def manager(cid: str, manager_id: str, branch: str = "BR0001", previous: str | None = None):
    data = {
        "manager_id": manager_id,
        "manager_branch_code": branch,
        "previous_manager_id": previous,
        "assigned_at": "2026-03-10T02:00:00Z",
    }
    return f.event("customer.manager_assigned", cid, data)


def app_push(cid: str, allowed: bool = True):
    data = {
        "channel": "app_push",
        "purpose": "marketing",
        "status": "granted" if allowed else "withdrawn",
        "do_not_contact": False,
        "contactable_channels": ["app_push", "sms"] if allowed else ["sms"],
    }
    return f.event("consent.changed", cid, data)


def reminder(cid: str, kind: str, due_on: str, reference: str | None = None, branch: str = "BJ0001"):
    key = f"{kind}:{reference or cid}:{due_on}"
    data = {"occasion_key": key, "kind": kind, "due_on": due_on, "reference": reference, "branch_code": branch}
    return f.event("care.reminder_due", cid, data)


def complaint(etype: str, cid: str, complaint_id: str, **data):
    base = {"complaint_id": complaint_id}
    if etype == "complaint.opened":
        base |= {
            "channel": "counter",
            "business_type": "deposit",
            "cause": "service_attitude",
            "branch_code": "BJ0001",
            "received_at": "2026-03-10T02:00:00Z",
            "due_at": "2026-03-25T16:00:00Z",
        }
    return f.event(etype, cid, base | data)


def invited(cid: str, invitation_id: int, complaint_id: str | None = None):
    data = {
        "invitation_id": invitation_id,
        "survey_id": str(uuid.uuid4()),
        "reason": "complaint_closed",
        "complaint_id": complaint_id,
        "invited_at": "2026-03-10T02:00:00Z",
    }
    return f.event("survey.invited", cid, data)
