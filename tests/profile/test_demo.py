"""The demo loader: deterministic for a seed, a plausible mix, loaded through the public API, and
idempotent when run again."""

from collections import Counter
from datetime import date

import httpx
from sqlalchemy import func, select

from services.common.auth import mint_token
from services.profile.models import Agreement, AssetSnapshot, Customer, RiskAssessment, TransactionRecord
from services.profile.schemas.customers import CustomerCreate
from services.profile.service.consent import normalise_contact
from services.profile.tools import demo
from tests.conftest import TEST_SECRET

TODAY = date(2026, 11, 28)


def test_plan_is_deterministic_for_a_seed_and_differs_between_seeds():
    one = [demo.plan_customer(1, i, TODAY) for i in range(50)]
    assert one == [demo.plan_customer(1, i, TODAY) for i in range(50)]
    assert [p.body for p in one] != [demo.plan_customer(2, i, TODAY).body for i in range(50)]


def test_plan_has_a_plausible_mix():
    plans = [demo.plan_customer(7, i, TODAY) for i in range(2000)]
    types = Counter(p.body["type"] for p in plans)
    regions = Counter(p.body["region_type"] for p in plans)
    assert types["individual"] > 1600 and types["enterprise"] > 80 and types["interbank"] > 10
    assert all(regions[r] > 200 for r in ("urban", "peri_urban", "rural"))
    dormant = [p for p in plans if p.dormant]
    assert 150 < len(dormant) < 350 and all(not p.transactions for p in dormant)
    aums = sorted(p.aum_fen for p in plans if p.body["type"] == "individual")
    median, top = aums[len(aums) // 2], aums[int(len(aums) * 0.99)]
    assert top > 20 * median  # a long tail
    assert len({p.body.get("resident_id") for p in plans if p.body["type"] == "individual"}) == types["individual"]
    days = {t["occurred_at"][:10] for p in plans for t in p.transactions}
    assert len(days) == 90 and max(days) < TODAY.isoformat()


def test_every_planned_customer_and_contact_passes_the_identity_rules():
    plans = [demo.plan_customer(seed, i, TODAY) for seed in (1, 7) for i in range(1500)]
    for p in plans:
        CustomerCreate.model_validate(p.body)  # raises on an area code, division or landline refused
        for contact in p.contacts:
            normalise_contact(contact["kind"], contact["value"])
    landlines = {p.body["phone"] for p in plans if p.body["type"] != "individual"}
    assert any(n.startswith("010") and len(n) == 11 for n in landlines)  # Beijing's 010 and 8 digits
    assert any(n.startswith("0755") for n in landlines)  # Shenzhen's 0755


def test_load_through_the_api_then_again_loads_nothing_twice(client, profile_db):
    system = mint_token(TEST_SECRET, sub="demo-core", role="system", scope="transactions:write")  # as the demo
    admin = mint_token(TEST_SECRET, sub="demo-organisation", role="admin")
    # as the demo: its people's work is the head office's (its customers are in every province)
    tokens = {"staff_token": admin, "system_token": system, "admin_token": admin}
    first = demo.load(client, n=12, seed=3, **tokens, concurrency=1, today=TODAY)
    planned = [demo.plan_customer(3, i, TODAY) for i in range(12)]
    assert first.customers == 12 and first.transactions == sum(len(p.transactions) for p in planned)

    def counts():
        with profile_db.read() as s:
            return [
                s.execute(select(func.count()).select_from(m)).scalar_one()
                for m in (Customer, TransactionRecord, AssetSnapshot, Agreement, RiskAssessment)
            ]

    before = counts()
    assert before[0] == 12 and before[2] == 12 and before[3] == sum(len(p.agreements) for p in planned)
    again = demo.load(client, n=12, seed=3, **tokens, concurrency=1, today=TODAY)
    assert (again.customers, again.skipped, again.transactions) == (0, 12, 0)
    assert counts() == before


def _answers(*statuses: int, retry_after: str = "0"):
    """An httpx transport answering `statuses` in turn (the last again after them), counting calls."""
    calls = []

    def handle(request):
        calls.append(request.content)
        status = statuses[min(len(calls), len(statuses)) - 1]
        return httpx.Response(status, headers={"Retry-After": retry_after} if status in demo.BUSY else {})

    return httpx.MockTransport(handle), calls


def test_the_loader_sends_a_refused_request_again_until_it_is_done():
    transport, calls = _answers(503, 429, 201)
    with demo.PatientClient(transport=transport, base_url="http://profile") as client:
        resp = client.post("/v1/customers", json={"name": "x"})
    assert resp.status_code == 201
    assert calls == [b'{"name":"x"}'] * 3  # the same body each time


def test_the_loader_gives_up_after_six_refusals_and_returns_the_last():
    transport, calls = _answers(503)
    with demo.PatientClient(transport=transport, base_url="http://profile") as client:
        assert client.get("/v1/customers").status_code == 503
    assert len(calls) == demo.ATTEMPTS == 6


def test_the_loader_does_not_repeat_what_failed_for_another_reason():
    transport, calls = _answers(500, 201)
    with demo.PatientClient(transport=transport, base_url="http://profile") as client:
        assert client.get("/v1/customers").status_code == 500
    assert len(calls) == 1


def test_the_loader_waits_what_retry_after_says_at_most_five_seconds():
    assert [demo._wait(v) for v in ("2", None, "600", "-3", "Wed, 21 Oct 2026 07:28:00 GMT")] == [
        2.0,
        1.0,
        5.0,
        0.0,
        1.0,
    ]
