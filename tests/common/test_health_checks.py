"""Readiness by migration state: at head ready, behind or empty not ready, ahead (a newer release's
migration job already ran) still ready so a rolling upgrade keeps old replicas serving."""

import pytest
from sqlalchemy import text

from services.common.db import Database
from services.common.health import MigrationState, database_checks

STATE = MigrationState(heads=frozenset({"b2"}), known=frozenset({"a1", "b2"}))


@pytest.mark.parametrize(
    "applied, ready, detail",
    [
        (["b2"], True, "at head"),
        (["a1"], False, "at ['a1'], head is ['b2']"),
        ([], False, "at nothing, head is ['b2']"),
        (["c3"], True, "ahead of this release's head (['c3'])"),
    ],
)
def test_migration_check_by_applied_revision(tmp_path, applied, ready, detail):
    db = Database(f"sqlite:///{tmp_path / 'h.db'}")
    with db.write() as s:
        s.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        for rev in applied:
            s.execute(text("INSERT INTO alembic_version VALUES (:r)"), {"r": rev})
        s.commit()
    checks = database_checks(db, STATE)
    assert checks["database"]() == (True, "reachable")
    assert checks["migrations"]() == (ready, detail)
    db.dispose()


@pytest.mark.parametrize("service", ["profile", "segmentation", "feedback", "loyalty"])
def test_migration_heads_read_from_the_files_match_alembic(service):
    """migration_heads reads the revision files itself (serving processes do not load Alembic); its
    answer must be Alembic's own."""
    from pathlib import Path

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from services.common.health import migration_heads

    ini = Path(__file__).parents[2] / "services" / service / "alembic.ini"
    cfg = Config(str(ini))
    cfg.set_main_option("script_location", str(ini.parent / "migrations"))
    script = ScriptDirectory.from_config(cfg)
    assert migration_heads(ini) == MigrationState(
        frozenset(script.get_heads()), frozenset(r.revision for r in script.walk_revisions())
    )
