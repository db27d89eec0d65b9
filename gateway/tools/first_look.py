"""A first look shows a working bank: on an empty suite, `make run` loads a starter catalogue through the
gateway's public API, so that points accrue and recommendations appear from the first transaction.

    python -m gateway.tools.first_look --url http://127.0.0.1:8000

What it loads, each part only when its catalogue is empty (so a bank's own catalogue is never touched and
running it again adds nothing): loyalty earning rules (deposits, bill payments, wealth purchases), rewards
(a gift and a fee-discount voucher), a financial-knowledge lecture at the first customer's branch, a draft
campaign promoting a wealth product (never launched here); segmentation products for each needs profile;
feedback's published branch-service survey. It acts as an
admin token of this suite (SUITE_JWT_* settings) and writes like any client would, validation included."""

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from gateway.config import GatewaySettings
from services.common.auth import mint_for

RULES: list[dict[str, Any]] = [
    {
        "code": "fl-deposit",
        "name": "存款积分",
        "kind": "deposit",
        "points_per_100_cny": 10,
        "monthly_cap": 5000,
        "multipliers": [{"channel": "mobile", "factor": "1.5"}],
    },
    {"code": "fl-bills", "name": "生活缴费积分", "kind": "bill_payment", "points_per_100_cny": 5, "daily_cap": 200},
    {"code": "fl-wealth", "name": "理财购买积分", "kind": "wealth_purchase", "points_per_100_cny": 20},
]
REWARDS: list[dict[str, Any]] = [
    {"code": "fl-umbrella", "name": "邮储定制雨伞", "type": "gift", "points_price": 800, "stock": 500},
    {
        "code": "fl-fee-voucher",
        "name": "跨行汇款手续费减免券",
        "type": "voucher",
        "points_price": 300,
        "voucher_valid_days": 90,
    },
]
PRODUCTS: list[dict[str, Any]] = [
    {"code": "FL-DEP-3Y", "name": "三年期整存整取", "category": "deposit", "needs_tag": "saving"},
    {
        "code": "FL-WM-R2",
        "name": "稳健增利理财",
        "category": "wealth",
        "risk_level": "R2",
        "needs_tag": "returns",
        "target_classes": ["asset_size:mid_high", "asset_size:major"],
    },
    {
        "code": "FL-ALLOC",
        "name": "财富配置顾问服务",
        "category": "wealth",
        "risk_level": "R3",
        "needs_tag": "asset_allocation",
        "target_classes": ["asset_size:major"],
    },
    {
        "code": "FL-MICRO-LOAN",
        "name": "小微易贷",
        "category": "loan",
        "needs_tag": "fast_financing",
        "target_classes": ["asset_size:micro", "customer_type:enterprise"],
    },
    {"code": "FL-CARD", "name": "绿卡通借记卡", "category": "card", "needs_tag": "everyday_payments"},
    {"code": "FL-PROTECT", "name": "个人意外保障", "category": "insurance", "needs_tag": "protection"},
]
SURVEY_QUESTIONS = [
    {"id": "nps", "type": "nps", "text": "您向亲友推荐我行的可能性有多大？"},
    {"id": "csat", "type": "csat", "text": "您对本次网点服务满意吗？", "required": False},
    {
        "id": "wait",
        "type": "single_choice",
        "text": "本次等候时间",
        "options": ["10分钟以内", "10-30分钟", "30分钟以上"],
        "required": False,
    },
    {"id": "comment", "type": "free_text", "text": "其他意见和建议", "required": False, "max_chars": 500},
]


def starter(now: datetime, branch_code: str) -> dict[str, list[dict[str, Any]]]:
    """Every part of the catalogue, by the list path it is created at."""
    start = now.isoformat().replace("+00:00", "Z")
    # Rules in force for the past year, so that the demo's 90 days of transactions earn as they arrive.
    rules_from = (now - timedelta(days=365)).isoformat().replace("+00:00", "Z")
    lecture_day = (now + timedelta(days=14)).replace(hour=6, minute=0, second=0, microsecond=0)
    return {
        "/v1/loyalty/rules": [{**r, "valid_from": rules_from} for r in RULES],
        "/v1/loyalty/rewards": [{**r, "active_from": start} for r in REWARDS],
        "/v1/loyalty/customer-events": [
            {
                "title": "理财知识讲座：稳健投资与防范金融诈骗",
                "category": "lecture",
                "branch_code": branch_code,
                "starts_at": lecture_day.isoformat().replace("+00:00", "Z"),
                "ends_at": (lecture_day + timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
                "capacity": 60,
                "attendance_points": 50,
            }
        ],
        "/v1/products": PRODUCTS,
        # A draft only: launching needs a supervisor's approval, and a first look sends nobody anything.
        "/v1/loyalty/campaigns": [
            {
                "name": "稳健理财新客推介",
                "audience": "asset_size:mid_high",
                "channel": "app_push",
                "purpose": "marketing",
                "template": "尊敬的客户，您当前积分{points_balance}分，"
                "稳健理财产品{product_code}限时推介，截至{send_until_date}。",
                "product_code": "FL-WM-R2",
                "send_from": start,
                "send_until": (now + timedelta(days=30)).isoformat().replace("+00:00", "Z"),
            }
        ],
        "/v1/surveys": [
            {
                "title": "网点服务满意度调查",
                "questions": SURVEY_QUESTIONS,
                "channel": "app",
                "opens_at": start,
                "closes_at": (now + timedelta(days=365)).isoformat().replace("+00:00", "Z"),
            }
        ],
    }


def _check(resp: httpx.Response, what: str) -> dict[str, Any]:
    if resp.status_code >= 300:
        raise RuntimeError(f"{what}: {resp.status_code} {resp.text[:300]}")
    body: dict[str, Any] = resp.json()
    return body


def load(client: httpx.Client, *, now: datetime, say: Callable[[str], None]) -> dict[str, int]:
    """Creates each empty catalogue's starter items; returns how many were created per list path."""
    outlets = _check(client.get("/api/v1/branches", params={"level": "outlet", "limit": 1}), "branches")["items"]
    head = _check(client.get("/api/v1/branches", params={"level": "head_office", "limit": 1}), "branches")["items"]
    branch = (outlets or head)[0]["code"]  # the lecture's place: an outlet, else the head office
    created: dict[str, int] = {}
    for path, items in starter(now, branch).items():
        existing = _check(client.get(f"/api{path}", params={"limit": 1}), path)["items"]
        if existing:
            say(f"{path}: has items already, left as it is")
            continue
        for item in items:
            made = _check(client.post(f"/api{path}", json=item), f"{path} {item.get('code') or item.get('title')}")
            if path == "/v1/surveys":
                _check(client.post(f"/api/v1/surveys/{made['id']}/publish"), "publish survey")
        created[path] = len(items)
        say(f"{path}: {len(items)} created")
    return created


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:8000", help="the gateway")
    args = p.parse_args(argv)
    token = mint_for(GatewaySettings(), sub="first-look-loader", role="admin", ttl_seconds=600)
    with httpx.Client(base_url=args.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        try:
            load(client, now=datetime.now(UTC), say=print)
        except (RuntimeError, httpx.HTTPError) as err:
            print(f"first look: {err}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
