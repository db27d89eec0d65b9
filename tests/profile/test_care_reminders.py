"""The care_reminders job with an injected clock, on both databases: a risk assessment or an agreement
expiring within 30 days, a deposit maturing, a birthday within a week and a valuable customer gone quiet
each put one care.reminder_due on the feed; running again in the same or the next window tells nothing
twice; what lies further ahead, a newer assessment, a closed customer or a modest one are left alone."""

import uuid
from datetime import UTC, date, datetime, timedelta

from services.profile.models import Agreement, AssetSnapshot, Customer, RiskAssessment
from services.profile.service.jobs import build_jobs
from tests.clock import ManualClock
from tests.event_contract import problems_with
from tests.profile import factories as f
from tests.profile.conftest import profile_settings

NOW = datetime(2026, 6, 1, 2, tzinfo=UTC)  # 10:00 in Beijing


def _assessment(s, cid, expires_in_days, assessed_days_ago=340):
    row = RiskAssessment(
        customer_id=cid,
        questionnaire_id="individual",
        questionnaire_version=1,
        answers={},
        score=30,
        level="C3",
        assessed_at=NOW - timedelta(days=assessed_days_ago),
        expires_at=NOW + timedelta(days=expires_in_days),
        actor_sub="staff-1",
    )
    s.add(row)
    return row


def _reminders(client, auth):
    items = client.get("/v1/events", params={"limit": 1000}, headers=auth("system")).json()["items"]
    return [e for e in items if e["type"] == "care.reminder_due"]


def test_each_occasion_is_told_once(client, auth, profile_app):
    staff = auth("staff")
    risky, renewing, saver, celebrant, quiet, closed, modest = (
        f.register(client, staff, f.individual(resident_id=f.resident_id(born=b)))
        for b in (
            date(1980, 1, 1),
            date(1981, 1, 1),
            date(1982, 1, 1),
            date(1990, 6, 5),
            date(1983, 1, 1),
            date(1984, 1, 1),
            date(1985, 1, 1),
        )
    )
    ids = {
        name: uuid.UUID(c["id"])
        for name, c in zip(
            ("risky", "renewing", "saver", "celebrant", "quiet", "closed", "modest"),
            (risky, renewing, saver, celebrant, quiet, closed, modest),
            strict=True,
        )
    }
    holding = {
        "product_code": "FL-DEP-1Y",
        "category": "deposit",
        "opened_on": "2025-06-20",
        "matures_on": "2026-06-20",
    }
    put = client.put(f"/v1/customers/{saver['id']}/holdings/H-1", json=holding, headers=auth("system"))
    assert put.status_code == 201
    holding_id = put.json()["id"]
    far = {**holding, "matures_on": "2026-09-20"}
    assert client.put(f"/v1/customers/{saver['id']}/holdings/H-2", json=far, headers=auth("system")).status_code == 201
    db = profile_app.state.db
    with db.write() as s:
        risk = _assessment(s, ids["risky"], 20)
        _assessment(s, ids["renewing"], 10, assessed_days_ago=350)
        _assessment(s, ids["renewing"], 360, assessed_days_ago=5)  # reassessed since: nothing to remind
        _assessment(s, ids["modest"], 45)  # beyond the window
        _assessment(s, ids["closed"], 15)
        agreement = Agreement(
            customer_id=ids["renewing"],
            agreement_type="e_banking",
            version="1",
            channel="counter",
            signed_at=NOW - timedelta(days=700),
            expires_at=NOW + timedelta(days=25),
            actor_sub="staff-1",
        )
        s.add(agreement)
        for name, aum in (("quiet", 80_000_000), ("modest", 1_000_000)):
            s.add(AssetSnapshot(customer_id=ids[name], as_of_date=date(2026, 5, 31), aum_fen=aum, recorded_at=NOW))
            s.get(Customer, ids[name]).created_at = NOW - timedelta(days=400)
        s.flush()
        risk_id, agreement_id = risk.id, agreement.id
        s.commit()
    assert client.post(f"/v1/customers/{closed['id']}/close", headers=staff).status_code == 200

    clock = ManualClock(NOW)
    runner = build_jobs(profile_settings(db.url), db, profile_app.state.privacy, clock, profile_app.state.approvals)
    assert runner.tick() == []  # a new installation starts with the next window
    clock.set(datetime(2026, 6, 1, 22, 30, tzinfo=UTC))  # 06:30 on 2 June in Beijing: past the 06:20 window
    assert "care_reminders" in runner.tick()
    told = _reminders(client, auth)
    got = sorted((e["data"]["kind"], e["subject_id"], e["data"]["due_on"], e["data"]["reference"]) for e in told)
    assert got == sorted(
        [
            ("risk_expiry", risky["id"], "2026-06-21", str(risk_id)),
            ("agreement_renewal", renewing["id"], "2026-06-26", str(agreement_id)),
            ("deposit_maturity", saver["id"], "2026-06-20", holding_id),
            ("birthday", celebrant["id"], "2026-06-05", None),
            ("dormant", quiet["id"], "2026-06-02", None),
        ]
    )
    assert all(e["data"]["branch_code"] == "BJ0001" for e in told)
    assert [p for e in told for p in problems_with("profile", e)] == []
    assert runner.tick() == []  # once per window
    clock.advance(days=1)
    assert "care_reminders" in runner.tick()  # the next day's window: the same occasions are not told again
    assert len(_reminders(client, auth)) == 5
