"""`make audit-verify` (scripts/audit-verify.sh) as an operator runs it: every service's chain in the
databases db-env.sh names (here each <SERVICE>_DATABASE_URL, which wins as it does for make run);
exit 0 on a fresh suite, exit 1 naming the service and record after one row is edited by hand."""

import os
import sqlite3
import subprocess
from pathlib import Path

from services.common.audit_chain import append
from services.common.db import Database, utcnow
from services.feedback.models import audit_chain as feedback_chain
from tests import dbkit

ROOT = Path(__file__).parents[2]
SERVICES = ("profile", "segmentation", "feedback", "loyalty")


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "scripts/audit-verify.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_script_passes_on_a_fresh_suite_and_names_a_hand_edit(tmp_path):
    env = {**os.environ, "DB": "sqlite"}
    env.pop("SUITE_PORT_BASE", None)
    for name in SERVICES:
        url = dbkit.sqlite_url(tmp_path / f"{name}.db")
        dbkit.migrate(ROOT / "services" / name / "alembic.ini", url)
        env[f"{name.upper()}_DATABASE_URL"] = url
    fresh = _run(env)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert [line.split(":")[0] for line in fresh.stdout.splitlines()] == list(SERVICES)

    db = Database(env["FEEDBACK_DATABASE_URL"])
    with db.write() as s:
        for n in range(3):
            append(s, feedback_chain, action="complaint.note", actor_sub="staff-1", actor_role="staff",
                   subject=f"c{n}", at=utcnow(), detail={"n": n})  # fmt: skip
        s.commit()
    db.dispose()
    assert _run(env).returncode == 0
    with sqlite3.connect(tmp_path / "feedback.db") as conn:
        conn.execute("UPDATE audit_chain SET actor_sub = 'someone-else' WHERE seq = 2")
    broken = _run(env)
    assert broken.returncode == 1
    assert "feedback: BROKEN: record 2 was altered" in broken.stdout
    assert "profile: intact" in broken.stdout and "loyalty: intact" in broken.stdout
