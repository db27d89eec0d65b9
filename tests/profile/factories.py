"""Plain factory functions for profile tests: valid identity numbers and registration bodies."""

import itertools
import random
from datetime import date, timedelta

from services.profile.service.documents import icao_check_digit
from services.profile.service.identity import credit_code_check_char, resident_id_check_char

_seq = itertools.count(1)
_rng = random.Random()
# Numbers a process makes never repeat (random ones collided now and then: 1,000 in one batch test), and
# another process starts elsewhere in the space.
_start = _rng.randrange(20000 * 1000)
_phones = itertools.count(_rng.randrange(10**8))
DAYS = 20000  # birth dates from 1960-01-01 on


def _born() -> date:
    return date(1960, 1, 1) + timedelta(days=_rng.randrange(DAYS))


def resident_id(born: date | None = None, area: str = "110105") -> str:
    """A valid GB 11643 number, a new one at each call of this process (for a given `born` up to 1,000
    of them); `area` may be any six digits (tests of the area rule pass bad ones)."""
    n = _start + next(_seq)
    day = born or date(1960, 1, 1) + timedelta(days=(n // 1000) % DAYS)
    first17 = f"{area}{day:%Y%m%d}{n % 1000:03d}"
    return first17 + resident_id_check_char(first17)


def residence_permit(area: str = "810000") -> str:
    """港澳台居民居住证: built like a resident ID, area 810000, 820000 or 830000."""
    return resident_id(area=area)


def foreign_permanent_id_2023(province: str = "31", nationality: str = "826") -> str:
    first17 = f"9{province}{nationality}{_born():%Y%m%d}{_rng.randrange(1000):03d}"
    return first17 + resident_id_check_char(first17)


def foreign_permanent_id_2017(nationality: str = "USA", division: str = "3101") -> str:
    first14 = f"{nationality}{division}{_born():%y%m%d}{_rng.randrange(10)}"
    return first14 + icao_check_digit(first14)


def passport_number() -> str:
    return f"{_rng.randrange(10**8, 10**9)}"


def hk_macao_permit(letter: str = "H") -> str:
    return f"{letter}{_rng.randrange(10**8):08d}"


def taiwan_permit() -> str:
    return f"{_rng.randrange(10**8):08d}"


def credit_code(division: str = "110000") -> str:
    first17 = f"91{division}{_rng.randrange(10**9):09d}"
    return first17 + credit_code_check_char(first17)


def bad_credit_code() -> str:
    code = credit_code()
    wrong = "0" if code[-1] != "0" else "1"
    return code[:-1] + wrong


def mobile() -> str:
    return f"139{next(_phones) % 10**8:08d}"


def individual(**overrides) -> dict:
    body = {
        "type": "individual",
        "name": "王小明",
        "resident_id": resident_id(),
        "phone": mobile(),
        "email": "wang.xm@example.cn",
        "region_type": "urban",
        "province": "北京",
        "city": "北京",
        "branch_code": "BJ0001",
    }
    body.update(overrides)
    return body


def enterprise(kind: str = "enterprise", **overrides) -> dict:
    body = {
        "type": kind,
        "name": "北京示例科技有限公司",
        "credit_code": credit_code(),
        "contact_name": "李四",
        "phone": "010-62345678",
        "region_type": "peri_urban",
        "province": "北京",
        "city": "北京",
        "branch_code": "BJ0002",
    }
    body.update(overrides)
    return body


def register(client, headers: dict, body: dict | None = None) -> dict:
    resp = client.post("/v1/customers", json=body or individual(), headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


_ext = itertools.count(1)


def txn(customer_id: str, **overrides) -> dict:
    body = {
        "external_id": f"CB-{next(_ext):08d}-{_rng.randrange(10**6):06d}",
        "customer_id": customer_id,
        "kind": "deposit",
        "amount": "100.00",
        "channel": "counter",
        "occurred_at": "2026-11-20T08:30:00Z",
    }
    body.update(overrides)
    return body


def ingest(client, headers: dict, items: list[dict]) -> dict:
    resp = client.post("/v1/transactions:batch", json={"items": items}, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def erase(client, auth, customer_id: str, body: dict, role: str = "supervisor", sub: str = "sup-1"):
    """An erasure staff ask for, under dual control: asked by `role`, approved by an admin other than the
    maker. (status, body): 201 and the erasure request once done, else the refusal's status and problem."""
    asked = client.post(f"/v1/customers/{customer_id}/erasure-requests", json=body, headers=auth(role, sub=sub))
    if asked.status_code != 202:
        return asked.status_code, asked.json()
    done = client.post(f"/v1/customers/approvals/{asked.json()['id']}/approve", headers=auth("admin", sub="checker-9"))
    if done.status_code != 200:
        return done.status_code, done.json()
    listed = client.get(f"/v1/customers/{customer_id}/erasure-requests", headers=auth("admin")).json()["items"]
    return 201, listed[-1]
