"""Profile's branch revision on a database with customers: it opens the head office, adopts every
branch code customers carry as an outlet under it, and puts each on the feed as branch.created, so
existing customers stay valid and the other services' copies get the same tree."""

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from tests import dbkit
from tests.migrations.test_profile_identity_documents import INSERT, _url

ROOT = Path(__file__).parents[2]
ALEMBIC_INI = ROOT / "services" / "profile" / "alembic.ini"
BEFORE, REVISION = "9dcc7f373261", "e7c69501f656"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_branch_revision_adopts_existing_codes_under_a_head_office(backend, tmp_path):
    url = _url(backend, tmp_path)
    cfg = dbkit.alembic_config(ALEMBIC_INI, url)
    command.upgrade(cfg, BEFORE)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            for n in (1, 2):  # both in branch BJ01 (the INSERT's)
                conn.execute(INSERT, {"id": f"{n:032x}", "no": f"{n:012d}", "id_type": "resident_id", "hash": f"h{n}"})
        command.upgrade(cfg, REVISION)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT code, level, parent_code, status, version FROM branch ORDER BY code"))
            assert [tuple(r) for r in rows] == [
                ("BJ01", "outlet", "HQ0001", "open", 1),
                ("HQ0001", "head_office", None, "open", 1),
            ]
            events = conn.execute(text("SELECT type, subject_id FROM outbox_event ORDER BY position"))
            assert [tuple(e) for e in events] == [("branch.created", "HQ0001"), ("branch.created", "BJ01")]
        command.downgrade(cfg, BEFORE)
        command.upgrade(cfg, REVISION)
    finally:
        engine.dispose()
