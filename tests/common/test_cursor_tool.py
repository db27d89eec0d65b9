"""The operator's cursor command: shows every feed cursor, moves one, refuses what it cannot do."""

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import MetaData, select

from services.common.consumer import consumer_cursor_table
from services.common.cursor_tool import run
from services.common.db import Database
from tests import dbkit

ROOT = Path(__file__).parents[2]
FEEDS = ("profile", "segmentation")


def _db(tmp_path):
    metadata = MetaData()
    table = consumer_cursor_table(metadata)
    url = dbkit.sqlite_url(tmp_path / "c.db")
    db = Database(url)
    metadata.create_all(db.engine)
    db.dispose()
    return url, table


def _positions(url, table) -> dict[str, int]:
    db = Database(url)
    try:
        with db.read() as s:
            return {r.consumer: r.position for r in s.execute(select(table))}
    finally:
        db.dispose()


def test_show_then_move_a_cursor(tmp_path, capsys):
    url, table = _db(tmp_path)
    assert run(url, table, FEEDS, []) == 0
    assert capsys.readouterr().out.splitlines() == ["profile 0 (never read)", "segmentation 0 (never read)"]
    assert run(url, table, FEEDS, ["--set", "profile=42"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "moved profile: 0 -> 42" and out[1].startswith("profile 42 ")
    assert run(url, table, FEEDS, ["--set", "profile=7"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "moved profile: 42 -> 7"
    assert _positions(url, table) == {"profile": 7}


def test_unknown_feed_or_bad_position_is_refused_and_changes_nothing(tmp_path, capsys):
    url, table = _db(tmp_path)
    for value in ("loyalty=3", "profile=-1", "profile=x", "profile"):
        assert run(url, table, FEEDS, ["--set", value]) == 2
        assert "one of profile, segmentation" in capsys.readouterr().out
    assert _positions(url, table) == {}


def test_service_command_moves_its_own_cursor(tmp_path):
    url = dbkit.sqlite_url(tmp_path / "loyalty.db")
    dbkit.migrate(ROOT / "services" / "loyalty" / "alembic.ini", url)
    env = {**os.environ, "LOYALTY_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "services.loyalty.tools.cursor", "--set", "profile=5"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "moved profile: 0 -> 5"
    assert [line.split()[:2] for line in lines[1:]] == [["profile", "5"], ["segmentation", "0"], ["feedback", "0"]]
