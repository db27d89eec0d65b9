"""`python -m services.profile.tools.audit` (what `make audit-verify` runs for profile) as a separate
process on a real database file: intact after use, exit 1 naming the record after one access-log row
is edited by hand, and a head recorded earlier catches a chain recomputed since."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from services.profile.app import create_app
from tests import dbkit
from tests.profile import factories as f
from tests.profile.conftest import ALEMBIC_INI, profile_settings

ROOT = Path(__file__).parents[2]


def _tool(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PROFILE_DATABASE_URL": url}
    cmd = [sys.executable, "-m", "services.profile.tools.audit", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_verify_passes_then_names_the_row_edited_by_hand(tmp_path, auth):
    path = tmp_path / "profile.db"
    url = dbkit.sqlite_url(path)
    dbkit.migrate(ALEMBIC_INI, url)
    assert _tool(url, "verify").returncode == 0  # a fresh database: an empty chain is intact
    with TestClient(create_app(profile_settings(url))) as client:
        c = f.register(client, auth("staff"), f.individual())
        for _ in range(3):
            r = client.get(
                f"/v1/customers/{c['id']}/personal-data", params={"reason": "客户来电核实"}, headers=auth("admin")
            )
            assert r.status_code == 200
    ok = _tool(url, "verify")
    assert ok.returncode == 0 and ok.stdout.startswith("profile: intact, 3 records"), ok.stdout + ok.stderr
    head = _tool(url, "head").stdout.split()
    assert head[:2] == ["profile", "3"] and len(head[2]) == 64

    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE audit_entry SET action = 'personal_data.exported' WHERE id = 2")
    broken = _tool(url, "verify")
    assert broken.returncode == 1
    assert broken.stdout.strip() == "profile: BROKEN: record 2: audit_entry row 2 was altered (action)"

    with sqlite3.connect(path) as conn:  # put it back, then rewrite the chain's last record consistently
        conn.execute("UPDATE audit_entry SET action = 'personal_data.read' WHERE id = 2")
        conn.execute("DELETE FROM audit_chain WHERE seq = 3")
        conn.execute("DELETE FROM audit_entry WHERE id = 3")
    assert _tool(url, "verify").returncode == 0  # consistent in itself...
    caught = _tool(url, "verify", "--expect", f"{head[1]}:{head[2]}")
    assert (
        caught.returncode == 1 and "record 3 is not the one recorded earlier" in caught.stdout
    )  # ...not with evidence
    assert _tool(url, "verify", "--expect", "3:abc").returncode == 2  # a malformed head is refused
