"""Seed customers through profile's API (so the read path meets rows written the normal way), in the
bench's branches: the city branch BR0001 (the bench staff token's) and its outlet BJ0001."""

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import httpx

from services.common.auth import mint_token
from services.common.config import DEV_JWT_SECRET
from services.profile.service.identity import resident_id_check_char

SEED_AREA = "110105"  # bench/lua/register.lua uses Jiangsu's areas (32xxxx), so its numbers never meet these


class SeedError(RuntimeError):
    pass


def seed_resident_id(i: int) -> str:
    """Unique for i < 10,000,000: a birth date per thousand, a serial within it."""
    born = date(1960, 1, 1) + timedelta(days=i // 1000)
    first17 = f"{SEED_AREA}{born:%Y%m%d}{i % 1000:03d}"
    return first17 + resident_id_check_char(first17)


def seed_body(i: int) -> dict:
    return {
        "type": "individual",
        "name": f"Bench Customer {i}",
        "resident_id": seed_resident_id(i),
        "phone": f"139{i:08d}",
        "email": f"c{i}@example.cn",
        "region_type": "urban",
        "province": "Beijing",
        "city": "Beijing",
        "branch_code": "BJ0001",
    }


BENCH_BRANCHES = (
    {"code": "BR0001", "name": "Bench city branch", "level": "city", "parent_code": "HQ0001"},
    {"code": "BJ0001", "name": "Bench outlet", "level": "outlet", "parent_code": "BR0001"},
)


def open_bench_branches(profile_url: str) -> None:
    """Opens the bench's branches under the head office profile's migration made (kept when open)."""
    admin = {"Authorization": f"Bearer {mint_token(DEV_JWT_SECRET, sub='bench-admin', role='admin')}"}
    with httpx.Client(base_url=profile_url, headers=admin, timeout=30.0) as client:
        for body in BENCH_BRANCHES:
            resp = client.post("/v1/branches", json=body)
            if resp.status_code not in (201, 409):
                raise SeedError(f"opening branch {body['code']}: HTTP {resp.status_code} {resp.text[:300]}")


def seed_customers(base_url: str, token: str, count: int, concurrency: int = 4) -> list[str]:
    """The new customers' ids, in order; raises SeedError on the first non-201."""
    open_bench_branches(base_url)
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(base_url=base_url, headers=headers, timeout=30.0, limits=limits) as client:

        def register(i: int) -> str:
            resp = client.post("/v1/customers", json=seed_body(i))
            if resp.status_code != 201:
                raise SeedError(f"seeding customer {i}: HTTP {resp.status_code} {resp.text[:300]}")
            return resp.json()["id"]

        with ThreadPoolExecutor(concurrency) as pool:
            return list(pool.map(register, range(count)))
