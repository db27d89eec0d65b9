"""The revisions that seal the last free text (free_text_reasons_sealed), on databases with rows written
before: loyalty's (5bd47b4a21f2) encrypts ledger reasons and approval requests' typed text (payload
reason, rejection note; the kit's part, the same in every service); profile's (56b71b3c17a2) the access
log's and a do-not-contact flag's reasons. Each downgrade gives the plain text again."""

import json
import uuid
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from services.common.config import DEV_PII_KEY
from services.common.pii import PersonalDataVault
from tests import dbkit
from tests.migrations.test_free_text_encryption import _engine, _url

ROOT = Path(__file__).parents[2]
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
VAULT = PersonalDataVault(DEV_PII_KEY, "")  # the key the migrations read from the default settings
WORDS = "客户来电13800138000要求补偿"
APPROVAL = (
    "INSERT INTO approval_request (id, action, object_id, payload, why, maker_sub, maker_role, status,"
    " requested_at, expires_at, note) VALUES (:id, 'points.adjust', :obj, :payload, 'over_limit', 'clerk-1',"
    " 'staff', 'rejected', '2026-12-01 00:00:00', '2026-12-04 00:00:00', :note)"
)


def _approval_texts(conn) -> tuple[str, str, int]:
    payload, note = conn.execute(text("SELECT payload, note FROM approval_request")).one()
    payload = payload if isinstance(payload, dict) else json.loads(payload)
    return payload["reason"], note, payload["points"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_loyalty_revision_seals_ledger_and_approval_text_and_its_downgrade_opens_it(backend, tmp_path):
    url = _url(backend, tmp_path, "loyalty")
    cfg = dbkit.alembic_config(ROOT / "services" / "loyalty" / "alembic.ini", url)
    command.upgrade(cfg, "0861e9ee03a8")
    engine = _engine(url)
    cid = uuid.uuid4().hex
    account = "INSERT INTO points_account (customer_id, status, balance, lifetime_earned, enrolled_via, enrolled_at,"
    account += " updated_at) VALUES (:c, 'active', 5, 5, 'staff', '2026-12-01 00:00:00', '2026-12-01 00:00:00')"
    entry = "INSERT INTO points_ledger_entry (customer_id, kind, points, balance_after, source, reason, occurred_at,"
    entry += " created_at) VALUES (:c, 'adjust', 5, 5, 'manual', :r, '2026-12-01 00:00:00', '2026-12-01 00:00:00')"
    payload = json.dumps({"customer_id": cid, "points": 2000, "reason": WORDS}, ensure_ascii=False)
    try:
        with engine.begin() as conn:
            conn.execute(text(account), {"c": cid})
            conn.execute(text(entry), {"c": cid, "r": WORDS})
            conn.execute(text(APPROVAL), {"id": str(uuid.uuid4()), "obj": cid, "payload": payload, "note": WORDS})
        command.upgrade(cfg, "5bd47b4a21f2")
        with engine.connect() as conn:
            reason = conn.execute(text("SELECT reason FROM points_ledger_entry")).scalar_one()
            sealed_reason, note, points = _approval_texts(conn)
        assert VAULT.decrypt(reason, "points_ledger_entry.reason") == WORDS
        assert VAULT.decrypt(sealed_reason, "approval_request.payload.reason") == WORDS and points == 2000
        assert VAULT.decrypt(note, "approval_request.note") == WORDS
        command.downgrade(cfg, "0861e9ee03a8")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT reason FROM points_ledger_entry")).scalar_one() == WORDS
            assert _approval_texts(conn) == (WORDS, WORDS, 2000)
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_profile_revision_seals_typed_reasons_and_its_downgrade_opens_them(backend, tmp_path):
    url = _url(backend, tmp_path, "profile")
    cfg = dbkit.alembic_config(ROOT / "services" / "profile" / "alembic.ini", url)
    command.upgrade(cfg, "ea69833c69de")
    engine = _engine(url)
    cid = "0" * 31 + "9"
    customer = "INSERT INTO customer (id, customer_no, type, name, id_type, id_number_enc, id_number_hash, phone_enc,"
    customer += " phone_hash, region_type, province, city, branch_code, status, created_at, updated_at, version)"
    customer += " VALUES (:id, '000000000001', 'individual', 'x', 'resident_id', 'enc', 'h1', 'enc', 'h', 'urban',"
    customer += " 'p', 'c', 'HQ0001', 'active', '2026-12-01 00:00:00', '2026-12-01 00:00:00', 1)"
    audit = "INSERT INTO audit_entry (customer_id, action, actor_sub, actor_role, reason, fields, at) VALUES"
    audit += " (:c, 'personal_data.read', 'boss', 'supervisor', :r, 'phone', '2026-12-01 00:00:00')"
    flag = "INSERT INTO do_not_contact_record (customer_id, do_not_contact, reason, actor_sub, recorded_at) VALUES"
    flag += " (:c, true, :r, 'clerk', '2026-12-01 00:00:00')"
    try:
        with engine.begin() as conn:
            conn.execute(text(customer), {"id": cid})
            conn.execute(text(audit), {"c": cid, "r": WORDS})
            conn.execute(text(flag), {"c": cid, "r": WORDS})
        command.upgrade(cfg, "56b71b3c17a2")
        with engine.connect() as conn:
            access = conn.execute(text("SELECT reason FROM audit_entry")).scalar_one()
            dnc = conn.execute(text("SELECT reason FROM do_not_contact_record")).scalar_one()
        assert VAULT.decrypt(access, "audit_entry.reason") == WORDS
        assert VAULT.decrypt(dnc, "do_not_contact_record.reason") == WORDS
        command.downgrade(cfg, "ea69833c69de")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT reason FROM audit_entry")).scalar_one() == WORDS
            assert conn.execute(text("SELECT reason FROM do_not_contact_record")).scalar_one() == WORDS
    finally:
        engine.dispose()
