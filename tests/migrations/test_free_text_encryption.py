"""The free-text revisions on databases with rows written before: feedback's (a54addb53239) encrypts
complaint descriptions, step notes and the text in step data; profile's (e1c0d7e8af0a) interaction
topics and summaries. The "[erased]" marker stays as it is, the service reads the rows back, and each
downgrade gives the plain text again."""

import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from services.common.config import DEV_PII_KEY
from services.common.pii import PersonalDataVault
from tests import dbkit

ROOT = Path(__file__).parents[2]
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
VAULT = PersonalDataVault(DEV_PII_KEY, "")  # the key the migrations read from the default settings
WORDS = "柜员态度差，电话13800138000"


def _url(backend: str, tmp_path: Path, service: str) -> str:
    if backend == "sqlite":
        return dbkit.sqlite_url(tmp_path / f"{service}.db")
    dbkit.require_postgres()
    return dbkit.fresh_pg_database(f"test_{service}_free_text_{dbkit.worker_id()}")


def _engine(url: str):
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


@pytest.mark.parametrize("backend", BACKENDS)
def test_feedback_revision_encrypts_old_free_text_and_its_downgrade_decrypts_it(backend, tmp_path):
    url = _url(backend, tmp_path, "feedback")
    cfg = dbkit.alembic_config(ROOT / "services" / "feedback" / "alembic.ini", url)
    command.upgrade(cfg, "28bc39ed01df")
    engine = _engine(url)
    complaint = (
        "INSERT INTO complaint (id, channel, business_type, cause, description, branch_code, state, received_at,"
    )
    complaint += " created_by, version) VALUES (:id, 'letter', 'savings', 'other', :d, 'BJ0001', 'received',"
    complaint += " '2026-01-01 00:00:00', 'staff', 1)"
    step = "INSERT INTO complaint_step (complaint_id, action, from_state, to_state, actor_sub, actor_role, at, note,"
    step += " data) VALUES (:id, 'extend', 'received', 'received', 'staff', 'staff', '2026-01-02 00:00:00', :n, :data)"
    try:
        with engine.begin() as conn:
            conn.execute(text(complaint), {"id": "0" * 31 + "1", "d": WORDS})
            conn.execute(text(complaint), {"id": "0" * 31 + "2", "d": "[erased]"})
            data = '{"to_days": 30, "reason": "' + WORDS + '"}'
            conn.execute(text(step), {"id": "0" * 31 + "1", "n": WORDS, "data": data})
        command.upgrade(cfg, "a54addb53239")
        with engine.connect() as conn:
            descriptions = [d for (d,) in conn.execute(text("SELECT description FROM complaint ORDER BY id"))]
            note, stored = conn.execute(text("SELECT note, data FROM complaint_step")).one()
        assert descriptions[1] == "[erased]" and descriptions[0].startswith("k1.")
        assert VAULT.decrypt(descriptions[0], "complaint.description") == WORDS
        assert VAULT.decrypt(note, "complaint_step.note") == WORDS
        stored = stored if isinstance(stored, dict) else json.loads(stored)
        assert stored["to_days"] == 30 and VAULT.decrypt(stored["reason"], "complaint_step.data.reason") == WORDS
        command.upgrade(cfg, "a54addb53239")  # again: what is encrypted stays as it is
        command.downgrade(cfg, "28bc39ed01df")
        with engine.connect() as conn:
            assert [d for (d,) in conn.execute(text("SELECT description FROM complaint ORDER BY id"))] == [
                WORDS,
                "[erased]",
            ]
            assert conn.execute(text("SELECT note FROM complaint_step")).scalar() == WORDS
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_profile_revision_encrypts_old_interactions_and_its_downgrade_decrypts_them(backend, tmp_path):
    url = _url(backend, tmp_path, "profile")
    cfg = dbkit.alembic_config(ROOT / "services" / "profile" / "alembic.ini", url)
    command.upgrade(cfg, "9dcc7f373261")
    engine = _engine(url)
    customer = "INSERT INTO customer (id, customer_no, type, name, id_type, id_number_enc, id_number_hash, phone_enc,"
    customer += " phone_hash, region_type, province, city, branch_code, status, created_at, updated_at, version)"
    customer += " VALUES (:id, '000000000001', 'individual', 'x', 'resident_id', 'enc', 'h1', 'enc', 'h', 'urban',"
    customer += " 'p', 'c', 'BJ01', 'active', '2026-12-01 00:00:00', '2026-12-01 00:00:00', 1)"
    interaction = "INSERT INTO interaction (id, customer_id, channel, direction, topic, summary, staff_id, occurred_at,"
    interaction += " recorded_at) VALUES (:id, :cid, 'phone', 'inbound', :t, :s, 'staff', '2026-12-01 00:00:00',"
    interaction += " '2026-12-01 00:00:00')"
    cid = "0" * 31 + "9"
    try:
        with engine.begin() as conn:
            conn.execute(text(customer), {"id": cid})
            conn.execute(text(interaction), {"id": "0" * 31 + "1", "cid": cid, "t": "投诉", "s": WORDS})
        command.upgrade(cfg, "e1c0d7e8af0a")
        with engine.connect() as conn:
            topic, summary = conn.execute(text("SELECT topic, summary FROM interaction")).one()
        assert VAULT.decrypt(topic, "interaction.topic") == "投诉"
        assert VAULT.decrypt(summary, "interaction.summary") == WORDS
        command.downgrade(cfg, "9dcc7f373261")
        with engine.connect() as conn:
            assert tuple(conn.execute(text("SELECT topic, summary FROM interaction")).one()) == ("投诉", WORDS)
    finally:
        engine.dispose()
