"""The organisation tests run in: profile's migration opens the head office (HQ0001); this adds a
province with the city branch BR0001 (the default staff token's branch) and every outlet code the
tests register customers in below it, and a second province whose branches are out of BR0001's
scope. Written straight into a freshly migrated profile database (tests' templates, the e2e suites),
without feed events, and the migration's own branch.created for the head office is taken off the
feed, so every test starts from an empty feed as before; the tests of the tree's events make their
own changes (tests/profile/test_api_branches.py), and tests/migrations checks the migration's event.
The other services' copies of the tree (segmentation, feedback, loyalty) get the same tree, head
office included, as if profile's feed had brought it."""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, create_engine, delete, insert, select

from services.common.branches import tree_changed
from services.common.db import upsert_insert
from services.feedback.models import branch as feedback_branch
from services.loyalty.models import branch as loyalty_branch
from services.profile.models import branch, outbox
from services.segmentation.models import branch as segmentation_branch

# Each service's copy of the tree; profile's migration opens the head office itself.
COPIES: dict[str, Table] = {"segmentation": segmentation_branch, "feedback": feedback_branch, "loyalty": loyalty_branch}
HEAD_OFFICE = ("HQ0001", "总行", "head_office", None)

OUTLETS_IN_SCOPE = ("BJ0001", "BJ0002", "GZ0001", "GZ0009", "HB0001", "HB0007", "SH0001", "SH0101", "TJ0001")
# (code, name, level, parent)
TREE: tuple[tuple[str, str, str, str], ...] = (
    ("TP0001", "测试省分行", "province", "HQ0001"),
    ("BR0001", "测试市分行", "city", "TP0001"),
    *((code, f"{code} 营业所", "outlet", "BR0001") for code in OUTLETS_IN_SCOPE),
    ("TP0002", "另一省分行", "province", "HQ0001"),
    ("CT0002", "另一市分行", "city", "TP0002"),
    ("BR0002", "BR0002 营业所", "outlet", "CT0002"),
    ("OT0001", "OT0001 营业所", "outlet", "CT0002"),
)


def seed_organisation(url: str, service: str = "profile") -> None:
    """Adds the test tree to a migrated database of `service` at `url` (profile's tree or another
    service's copy; branches already there are kept)."""
    table = branch if service == "profile" else COPIES[service]
    tree = TREE if service == "profile" else (HEAD_OFFICE, *TREE)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            have = set(conn.execute(select(table.c.code)).scalars())
            now = datetime.now(UTC)
            rows = [
                {"code": c, "name": n, "level": lv, "parent_code": p, "status": "open", "version": 1, "updated_at": now}
                for c, n, lv, p in tree
                if c not in have
            ]
            if rows:
                conn.execute(insert(table), rows)
            if service == "profile":
                conn.execute(delete(outbox).where(outbox.c.type == "branch.created"))
        tree_changed()
    finally:
        engine.dispose()


# Where a test's customers live unless it says otherwise: an outlet below BR0001, the default staff
# token's branch (tests/conftest.py).
HOME_OUTLET = "BJ0001"


def place_customer(service: str, db: Any, customer_id: str, branch_code: str = HOME_OUTLET) -> None:
    """Gives a service's copy of a customer its branch, as profile's customer.registered would: the
    branch scope of segmentation (customer_feature), feedback (customer_ref) and loyalty
    (customer_branch) is checked against it. `db` is the service's services.common.db.Database."""
    now = datetime.now(UTC)
    with db.write() as s:
        if service == "loyalty":
            from services.loyalty.service.branch_scope import place_customer as place

            place(s, uuid.UUID(customer_id), branch_code, now)
        elif service == "feedback":
            from services.feedback.models import CustomerRef

            ref = s.get(CustomerRef, customer_id) or CustomerRef(customer_id=customer_id)
            ref.branch_code, ref.updated_at = branch_code, now
            s.add(ref)
        else:
            from services.segmentation.models import customer_feature

            stmt = upsert_insert(s)(customer_feature).values(
                customer_id=customer_id, branch_code=branch_code, updated_at=now
            )
            s.execute(
                stmt.on_conflict_do_update(
                    index_elements=["customer_id"], set_={"branch_code": branch_code, "updated_at": now}
                )
            )
        s.commit()
