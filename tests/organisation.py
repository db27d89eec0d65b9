"""The organisation tests run in: profile's migration opens the head office (HQ0001); this adds a
province with the city branch BR0001 (the default staff token's branch) and every outlet code the
tests register customers in below it, and a second province whose branches are out of BR0001's
scope. Written straight into a freshly migrated profile database (tests' templates, the e2e suites),
without feed events, and the migration's own branch.created for the head office is taken off the
feed, so every test starts from an empty feed as before; the tests of the tree's events make their
own changes (tests/profile/test_api_branches.py), and tests/migrations checks the migration's event."""

from datetime import UTC, datetime

from sqlalchemy import create_engine, delete, insert, select

from services.common.branches import tree_changed
from services.profile.models import branch, outbox

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


def seed_organisation(url: str) -> None:
    """Adds the test tree to a migrated profile database at `url` (branches already there are kept)."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            have = set(conn.execute(select(branch.c.code)).scalars())
            now = datetime.now(UTC)
            rows = [
                {"code": c, "name": n, "level": lv, "parent_code": p, "status": "open", "version": 1, "updated_at": now}
                for c, n, lv, p in TREE
                if c not in have
            ]
            if rows:
                conn.execute(insert(branch), rows)
            conn.execute(delete(outbox).where(outbox.c.type == "branch.created"))
        tree_changed()
    finally:
        engine.dispose()
