"""Product catalogue, suitability for every C/R pair, recommendations with reasons."""

import uuid
from datetime import timedelta

import pytest

from services.segmentation.service.catalogue import suitable
from tests.segmentation.conftest import NOW

MISSING = "00000000-0000-4000-8000-0000000000cc"


@pytest.mark.parametrize("c", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("r", [1, 2, 3, 4, 5])
def test_suitability_for_every_c_r_pair(c, r):
    valid_until = NOW + timedelta(days=1)
    assert suitable(f"C{c}", valid_until, f"R{r}", NOW) is (r <= c)
    assert suitable(f"C{c}", NOW, f"R{r}", NOW) is False  # expired at this instant
    assert suitable(None, None, f"R{r}", NOW) is False
    assert suitable(f"C{c}", valid_until, None, NOW) is True


def product(client, auth, **kw):
    body = {"code": "DEP1", "name": "Time deposit", "category": "deposit", "needs_tag": "saving"} | kw
    return client.post("/v1/products", json=body, headers=auth("admin"))


def test_create_read_and_list_products(client, auth):
    r = product(client, auth, target_classes=["asset_size:ordinary"])
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert r.headers["Location"] == f"/v1/products/{pid}"
    assert client.get(f"/v1/products/{pid}", headers=auth("customer")).json()["code"] == "DEP1"
    product(client, auth, code="W1", name="Fund", category="wealth", risk_level="R2", needs_tag="returns")
    listed = client.get("/v1/products?category=wealth", headers=auth("staff")).json()
    assert [p["code"] for p in listed["items"]] == ["W1"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"category": "wealth"}, ["body", "risk_level"]),
        ({"risk_level": "R9"}, ["body", "risk_level"]),
        ({"target_classes": ["asset_size:galactic"]}, ["body", "target_classes", 0]),
        ({"needs_tag": "yachts"}, ["body", "needs_tag"]),
        ({"code": "lower case"}, ["body", "code"]),
        ({"colour": "red"}, ["body", "colour"]),
    ],
)
def test_bad_products_are_422_naming_the_field(client, auth, body, loc):
    r = product(client, auth, **body)
    assert r.status_code == 422 and loc in [e["loc"] for e in r.json()["errors"]]


def test_duplicate_code_is_409_and_unknown_product_404(client, auth):
    assert product(client, auth).status_code == 201
    r = product(client, auth)
    assert r.status_code == 409 and r.json()["code"] == "product_code_taken"
    r = client.get(f"/v1/products/{MISSING}", headers=auth("staff"))
    assert r.status_code == 404 and r.json()["code"] == "product_not_found"


@pytest.mark.parametrize(
    ("role", "status"), [("customer", 403), ("staff", 403), ("system", 403), ("supervisor", 201), ("admin", 201)]
)
def test_who_may_add_products(client, auth, role, status):
    r = client.post(
        "/v1/products", json={"code": "X1", "name": "n", "category": "card", "needs_tag": "saving"}, headers=auth(role)
    )
    assert r.status_code == status
    assert client.get("/v1/products").status_code == 401


@pytest.fixture
def catalogue(client, auth):
    for body in [
        {
            "code": "DEP",
            "name": "Time deposit",
            "category": "deposit",
            "needs_tag": "saving",
            "target_classes": ["asset_size:ordinary"],
        },
        {
            "code": "FUND2",
            "name": "Balanced fund",
            "category": "wealth",
            "risk_level": "R2",
            "needs_tag": "returns",
            "target_classes": ["asset_size:mid_high", "asset_size:major"],
        },
        {
            "code": "FUND4",
            "name": "Equity fund",
            "category": "wealth",
            "risk_level": "R4",
            "needs_tag": "returns",
            "target_classes": ["asset_size:mid_high"],
        },
        {
            "code": "LOAN",
            "name": "Micro loan",
            "category": "loan",
            "needs_tag": "fast_financing",
            "target_classes": ["asset_size:micro", "customer_type:enterprise"],
        },
        {"code": "CARD", "name": "Debit card", "category": "card", "needs_tag": "everyday_payments"},
    ]:
        assert client.post("/v1/products", json=body, headers=auth("admin")).status_code == 201


def codes(r):
    return [i["product"]["code"] for i in r.json()["items"]]


def test_recommendations_fit_classes_needs_and_suitability(client, auth, feed, catalogue):
    cid = feed.register()
    feed.assets(cid, 60_000_000)  # mid_high
    r = client.get(f"/v1/recommendations?customer_id={cid}", headers=auth("staff"))
    assert r.status_code == 200, r.text
    assert codes(r) == ["CARD"]  # no valid assessment: no wealth product
    feed.risk(cid, "C3")
    r = client.get(f"/v1/recommendations?customer_id={cid}", headers=auth("staff"))
    assert codes(r) == ["FUND2", "CARD"]  # R4 is above C3
    top = r.json()["items"][0]
    assert top["rank"] == 1 and "mid-to-high" in top["reason"] and "C3" in top["reason"]
    assert "asset_size:mid_high" in r.json()["classes"]


def test_expired_assessment_blocks_risk_products(client, auth, feed, catalogue, clock):
    cid = feed.register()
    feed.assets(cid, 60_000_000)
    feed.risk(cid, "C5", valid_days=10)
    clock.advance(days=11)
    assert codes(client.get(f"/v1/recommendations?customer_id={cid}", headers=auth("staff"))) == ["CARD"]


def test_enterprise_micro_gets_financing_first(client, auth, feed, catalogue):
    cid = feed.register(type="enterprise")
    assert codes(client.get(f"/v1/recommendations?customer_id={cid}", headers=auth("staff"))) == ["LOAN", "CARD"]


def test_customer_sees_only_own_recommendations(client, auth, feed, catalogue):
    cid = feed.register()
    assert client.get(f"/v1/recommendations?customer_id={cid}", headers=auth("customer", sub=cid)).status_code == 200
    other = client.get(f"/v1/recommendations?customer_id={cid}", headers=auth("customer"))
    assert other.status_code == 404
    assert client.get(f"/v1/recommendations?customer_id={cid}", headers=auth("system")).status_code == 403
    assert client.get(f"/v1/recommendations?customer_id={cid}").status_code == 401


def test_unknown_customer_and_closed_customer(client, auth, feed, catalogue):
    r = client.get(f"/v1/recommendations?customer_id={MISSING}", headers=auth("staff"))
    assert r.status_code == 404
    cid = feed.register()
    feed.send("customer.closed", cid, {"customer_no": "1", "reason": "left"})
    assert codes(client.get(f"/v1/recommendations?customer_id={cid}", headers=auth("staff"))) == []
    assert client.get("/v1/recommendations?customer_id=x", headers=auth("staff")).status_code == 422


def _holding(feed, cid: str, code: str, status: str = "held", holding_id: str | None = None) -> str:
    holding_id = holding_id or str(uuid.uuid4())
    data = {
        "holding_id": holding_id,
        "product_code": code,
        "category": "card",
        "status": status,
        "opened_on": "2025-01-02",
        "matures_on": None,
        "closed_on": None if status == "held" else "2026-01-02",
    }
    feed.send("holding.changed", cid, data)
    return holding_id


def test_a_held_product_is_never_offered_and_returns_when_closed(client, auth, feed, catalogue):
    cid = feed.register(type="enterprise")
    card = _holding(feed, cid, "CARD")
    _holding(feed, cid, "DEP1", "closed")
    assert codes(client.get(f"/v1/recommendations?customer_id={cid}", headers=auth("staff"))) == ["LOAN"]
    _holding(feed, cid, "CARD", "closed", holding_id=card)
    assert codes(client.get(f"/v1/recommendations?customer_id={cid}", headers=auth("staff"))) == ["LOAN", "CARD"]


def test_a_stated_goal_ranks_what_serves_it_first_with_the_reason(client, auth, feed, catalogue):
    cid = feed.register(type="enterprise")
    assert codes(client.get(f"/v1/recommendations?customer_id={cid}", headers=auth("staff"))) == ["LOAN", "CARD"]
    needs = {"purpose": "everyday", "horizon": "short", "liquidity_need": "high", "stated_at": "2026-03-01T00:00:00Z"}
    feed.send("customer.needs_stated", cid, needs)
    r = client.get(f"/v1/recommendations?customer_id={cid}", headers=auth("staff"))
    assert codes(r) == ["CARD", "LOAN"]
    assert "stated goal of everyday payments" in r.json()["items"][0]["reason"]


def test_reasons_follow_accept_language(client, auth, feed, catalogue):
    cid = feed.register()
    feed.assets(cid, 60_000_000)  # mid_high
    feed.risk(cid, "C3")
    url = f"/v1/recommendations?customer_id={cid}"
    zh = client.get(url, headers={**auth("staff"), "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert zh.headers["Content-Language"] == "zh-CN"
    top = zh.json()["items"][0]
    assert top["product"]["code"] == "FUND2"
    assert top["reason"] == (
        "Balanced fund：中高端客户的主要需求是收益；产品面向中高端客户设计；"
        "产品风险等级R2在客户评估等级C3以内（有效期至" + top["reason"].split("有效期至")[1]
    )
    assert "中高端" in top["reason"] and "mid-to-high" not in top["reason"]
    en = client.get(url, headers={**auth("staff"), "Accept-Language": "fr, en;q=0.5, zh;q=0.1"})
    assert en.headers["Content-Language"] == "en" and "mid-to-high" in en.json()["items"][0]["reason"]
    assert client.get(url, headers=auth("staff")).headers["Content-Language"] == "en"


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("zh", "zh"),
        ("zh-TW", "zh"),
        ("en-GB,zh;q=0.9", "en"),
        ("zh;q=0, en", "en"),
        ("*", "en"),
        ("", "en"),
        ("de, zh-CN;q=0.4", "zh"),
        ("zh;q=abc, en", "en"),
    ],
)
def test_language_choice(header, lang):
    from services.segmentation.service.reasons import language

    assert language(header) == lang


def test_erasure_forgets_holdings_and_needs(client, auth, feed, catalogue, seg_db):
    from sqlalchemy import func, select

    from services.segmentation.models import customer_holding

    cid = feed.register()
    _holding(feed, cid, "CARD")
    feed.send(
        "customer.needs_stated",
        cid,
        {"purpose": "saving", "horizon": "long", "liquidity_need": "low", "stated_at": "2026-03-01T00:00:00Z"},
    )
    feed.send("customer.erased", cid, {"customer_no": "1", "erased_at": "2026-03-02T00:00:00Z"})
    with seg_db.read() as s:
        assert s.execute(select(func.count()).select_from(customer_holding)).scalar_one() == 0
