"""`make demo`: a realistic synthetic data set loaded through profile's public API, deterministic for a
given seed: an organisation (11 province branches, 12 city branches, 36 outlets under the head
office) and individuals, enterprises and interbank customers across urban, peri-urban and rural
branches, log-normal assets with a long tail, dormant customers, 90 days of transactions, risk
assessments, consents and agreements.

    python -m services.profile.tools.demo --n 10000 --seed 1 --url http://127.0.0.1:8001

Each customer's data comes from its own random stream (seed, index), so the set does not depend on
the order or concurrency of the calls. Running it again loads nothing twice: a customer already
registered (409 customer_duplicate) is skipped, and transactions are idempotent by external id."""

import argparse
import math
import random
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from services.common.auth import mint_for
from services.profile.config import ProfileSettings
from services.profile.service.identity import credit_code_check_char, resident_id_check_char

# (province, city, area code of the resident ID (GB/T 2260), branch code prefix, telephone area code)
PLACES = [
    ("北京", "北京", "110105", "BJ", "010"),
    ("上海", "上海", "310115", "SH", "021"),
    ("广东", "广州", "440106", "GZ", "020"),
    ("广东", "深圳", "440304", "SZ", "0755"),
    ("四川", "成都", "510104", "CD", "028"),
    ("湖北", "武汉", "420102", "WH", "027"),
    ("河南", "郑州", "410105", "ZZ", "0371"),
    ("山东", "济南", "370102", "JN", "0531"),
    ("江苏", "南京", "320102", "NJ", "025"),
    ("浙江", "杭州", "330106", "HZ", "0571"),
    ("陕西", "西安", "610113", "XA", "029"),
    ("甘肃", "兰州", "620102", "LZ", "0931"),
]
# The province branches the cities above sit under (the first column of PLACES names the province).
PROVINCE_BRANCHES = {
    "北京": "PBJ01",
    "上海": "PSH01",
    "广东": "PGD01",
    "四川": "PSC01",
    "湖北": "PHB01",
    "河南": "PHA01",
    "山东": "PSD01",
    "江苏": "PJS01",
    "浙江": "PZJ01",
    "陕西": "PSN01",
    "甘肃": "PGS01",
}
OUTLETS_PER_CITY = 3
HEAD_OFFICE = "HQ0001"  # opened by profile's migration


def organisation() -> list[dict[str, Any]]:
    """The demo's tree below the head office, parents first: a province branch per province, a city
    branch per city (C + the city's prefix) and three outlets per city (the prefix and 0001-0003),
    where the demo's customers are registered."""
    tree: list[dict[str, Any]] = []
    for province, code in PROVINCE_BRANCHES.items():
        tree.append({"code": code, "name": f"{province}分行", "level": "province", "parent_code": HEAD_OFFICE})
    for province, city, _area, prefix, _tel in PLACES:
        city_code = f"C{prefix}01"
        tree.append(
            {"code": city_code, "name": f"{city}市分行", "level": "city", "parent_code": PROVINCE_BRANCHES[province]}
        )
        tree += [
            {"code": f"{prefix}{n:04d}", "name": f"{city}第{n}营业所", "level": "outlet", "parent_code": city_code}
            for n in range(1, OUTLETS_PER_CITY + 1)
        ]
    return tree


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华志强玉兰海燕红梅晓东文博子涵雨桐浩然欣怡"
FIRM_WORDS = ["华信", "恒通", "长江", "金桥", "远航", "丰源", "泰和", "新禾", "星海", "瑞丰", "嘉禾", "鼎盛"]
FIRM_TRADES = ["农业发展", "机械制造", "商贸", "物流", "建材", "食品", "电子科技", "医药", "纺织", "餐饮管理"]
BANKS = ["城市商业银行", "农村商业银行", "村镇银行", "农村信用合作联社"]
KINDS = ["deposit", "withdrawal", "transfer", "bill_payment", "wealth_purchase", "loan_repayment"]
KIND_WEIGHTS = [30, 25, 20, 15, 5, 5]
KIND_MEDIAN_CNY = {  # log-normal medians of a single transaction's amount
    "deposit": 2000,
    "withdrawal": 800,
    "transfer": 1500,
    "bill_payment": 150,
    "wealth_purchase": 50000,
    "loan_repayment": 3000,
}
CHANNEL_WEIGHTS = {  # counter / mobile / atm / online, by region
    "urban": [15, 60, 10, 15],
    "peri_urban": [30, 45, 15, 10],
    "rural": [55, 25, 15, 5],
}
CHANNELS = ["counter", "mobile", "atm", "online"]


@dataclass
class Plan:
    """Everything the demo loads for one customer."""

    index: int
    body: dict[str, Any]
    aum_fen: int
    dormant: bool
    contacts: list[dict[str, Any]] = field(default_factory=list)
    consents: list[dict[str, Any]] = field(default_factory=list)
    do_not_contact: bool = False
    risk_answers: int | None = None  # a seed for choosing answers, or None when not assessed
    agreements: list[dict[str, Any]] = field(default_factory=list)
    transactions: list[dict[str, Any]] = field(default_factory=list)


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def _fen(cny: float) -> str:
    fen = max(1, round(cny * 100))
    return f"{fen // 100}.{fen % 100:02d}"


def _z(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def plan_customer(seed: int, i: int, today: date) -> Plan:
    """The customer's data from its own random stream: the same seed and index give the same plan."""
    rng = random.Random(f"demo:{seed}:{i}")
    kind = _pick(rng, {"individual": 90, "enterprise": 8, "interbank": 2})
    region = _pick(rng, {"urban": 55, "peri_urban": 20, "rural": 25})
    province, city, area, branch, tel = PLACES[rng.randrange(len(PLACES))]
    body: dict[str, Any] = {
        "type": kind,
        "phone": f"1{rng.choice('3578')}{rng.randrange(10):d}{rng.randrange(10**8):08d}",
        "region_type": region,
        "province": province,
        "city": city,
        # one draw as before, so every other planned value is unchanged; the outlet is one of the city's
        "branch_code": f"{branch}{rng.randrange(1, 40) % OUTLETS_PER_CITY + 1:04d}",
    }
    if kind == "individual":
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 65))
        # A serial from the index keeps numbers unique within a seed for up to 1,000 customers per day.
        first17 = f"{area}{born:%Y%m%d}{(i * 7 + seed) % 1000:03d}"
        body |= {"name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", *GIVEN])}
        body |= {"resident_id": first17 + resident_id_check_char(first17)}
        if rng.random() < 0.4:
            body["email"] = f"user{seed}x{i}@example.cn"
        aum = rng.lognormvariate(math.log(40_000), 1.6)  # median 40k CNY, a long tail of the wealthy
    else:
        first17 = f"91{area}{(seed * 1_000_003 + i) % 10**9:09d}"
        body |= {"credit_code": first17 + credit_code_check_char(first17)}
        body |= {"contact_name": rng.choice(SURNAMES) + rng.choice(GIVEN)}
        body["phone"] = f"{tel}{rng.randrange(2, 9)}{rng.randrange(10**7):07d}"  # 8 digits, not 0 or 1 first
        if kind == "enterprise":
            body["name"] = f"{city}{rng.choice(FIRM_WORDS)}{rng.choice(FIRM_TRADES)}有限公司"
        else:
            body["name"] = f"{city}{rng.choice(FIRM_WORDS)}{rng.choice(BANKS)}"
        aum = rng.lognormvariate(math.log(2_000_000 if kind == "enterprise" else 50_000_000), 1.4)
    dormant = rng.random() < 0.12
    plan = Plan(index=i, body=body, aum_fen=round(aum * 100), dormant=dormant)
    _plan_relationship(rng, plan, today)
    if not dormant:
        plan.transactions = _plan_transactions(rng, seed, i, region, aum, today)
    return plan


_PAPER = {"signed_at_reason": "demo data: signed on paper before the system"}  # earlier times need one


def _plan_relationship(rng: random.Random, plan: Plan, today: date) -> None:
    individual = plan.body["type"] == "individual"
    if individual and rng.random() < 0.3:
        plan.contacts.append({"kind": "mobile", "value": f"139{rng.randrange(10**8):08d}", "is_preferred": True})
    if rng.random() < 0.6:
        for channel in ("sms", "phone_call", "email", "app_push"):
            if rng.random() < 0.5:
                status = "granted" if rng.random() < 0.8 else "withdrawn"
                via = rng.choice(["counter", "mobile", "online"])
                plan.consents.append(
                    {"channel": channel, "status": status, "given_via": via, "policy_version": "2026.1"}
                )
    plan.do_not_contact = rng.random() < 0.03
    if rng.random() < (0.35 if individual else 0.5):
        plan.risk_answers = rng.randrange(10**6)
    signed = datetime.combine(today, datetime.min.time(), UTC) - timedelta(days=rng.randrange(5, 1800))
    basic = {"agreement_type": "basic_account", "version": "2021.1", "channel": "counter"}
    plan.agreements.append({**basic, "signed_at": _z(signed), **_PAPER})
    for agreement_type, share in (("e_banking", 0.55), ("wealth_management", 0.15), ("loyalty_programme", 0.3)):
        if rng.random() < share:
            at = signed + timedelta(days=rng.randrange(0, max(1, (today - signed.date()).days)))
            channel = rng.choice(["counter", "mobile", "online"])
            kind = {"agreement_type": agreement_type, "version": "2025.2", "channel": channel}
            plan.agreements.append({**kind, "signed_at": _z(at), **_PAPER})


def _plan_transactions(
    rng: random.Random, seed: int, i: int, region: str, aum: float, today: date
) -> list[dict[str, Any]]:
    # Wealthier customers transact somewhat more; most make a few a week.
    count = min(200, max(1, int(rng.lognormvariate(math.log(12 + math.log10(max(aum, 10)) * 3), 0.7))))
    end = datetime.combine(today, datetime.min.time(), UTC)
    out = []
    for k in range(count):
        kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
        at = end - timedelta(days=rng.randrange(90), hours=rng.randrange(8, 20), minutes=rng.randrange(60))
        txn = {
            "external_id": f"DEMO{seed}-{i}-{k}",
            "kind": kind,
            "amount": _fen(rng.lognormvariate(math.log(KIND_MEDIAN_CNY[kind]), 1.0)),
            "channel": rng.choices(CHANNELS, CHANNEL_WEIGHTS[region])[0],
            "occurred_at": _z(at),
        }
        out.append(txn)
        if kind == "withdrawal" and rng.random() < 0.01:
            reversal: dict[str, Any] = {**txn, "external_id": f"{txn['external_id']}-R", "kind": "reversal"}
            reversal |= {"reverses_external_id": txn["external_id"], "customer_initiated": False}
            reversal["occurred_at"] = _z(at + timedelta(minutes=30))
            out.append(reversal)
    return out


def _answers(questionnaire: dict[str, Any], seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    return {q["id"]: rng.choice(q["options"])["id"] for q in questionnaire["questions"]}


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, label: str, total: int, out=sys.stderr, width: int = 30):
        self.label, self.total, self.out, self.width = label, max(total, 1), out, width
        self.done, self.started = 0, time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.done += n
        filled = int(self.width * self.done / self.total)
        rate = self.done / max(time.monotonic() - self.started, 1e-6)
        bar = "#" * filled + "." * (self.width - filled)
        self.out.write(f"\r{self.label:<13} [{bar}] {self.done}/{self.total} {rate:,.0f}/s")
        self.out.flush()

    def close(self) -> None:
        self.out.write("\n")
        self.out.flush()


class DemoError(RuntimeError):
    pass


BUSY = (429, 503)  # refused without being done (too many connections, storage busy): worth waiting for
ATTEMPTS = 6
MAX_WAIT_SECONDS = 5.0


class PatientClient(httpx.Client):
    """An httpx.Client that sends a request again when the service answers 429 or 503: such a refusal
    did nothing (the write's transaction rolled back, or the request never reached a handler), so the
    same request is safe to repeat. It waits what Retry-After says (at most 5 s; 1 s without one), up
    to six attempts in all, then returns the last answer. A busy moment of a suite that is still
    starting (`make run` loads the demo while the consumers catch up) then slows the load, not ends it."""

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        for attempt in range(1, ATTEMPTS + 1):
            resp = super().send(request, **kwargs)
            if resp.status_code not in BUSY or attempt == ATTEMPTS:
                return resp
            resp.read()
            resp.close()
            time.sleep(_wait(resp.headers.get("retry-after")))
        raise AssertionError("unreachable")


def _wait(retry_after: str | None) -> float:
    try:
        return min(max(float(retry_after or 1), 0.0), MAX_WAIT_SECONDS)
    except ValueError:  # an HTTP date: wait the default
        return 1.0


def _check(resp: httpx.Response, *ok: int) -> httpx.Response:
    if resp.status_code not in ok:
        raise DemoError(f"{resp.request.method} {resp.request.url.path}: HTTP {resp.status_code} {resp.text[:300]}")
    return resp


@dataclass
class Loaded:
    customers: int = 0
    skipped: int = 0
    transactions: int = 0


def load(
    client: httpx.Client,
    *,
    n: int,
    seed: int,
    staff_token: str,
    system_token: str,
    admin_token: str,
    concurrency: int = 4,
    today: date | None = None,
    progress: Callable[[str, int], Progress] | None = None,
) -> Loaded:
    """Opens the demo's organisation (with `admin_token`; branches already open are kept), then loads
    the plan for customers 0..n-1 through `client` (any httpx.Client, e.g. a TestClient)."""
    today = today or datetime.now(UTC).date()
    open_organisation(client, {"Authorization": f"Bearer {admin_token}"})
    staff = {"Authorization": f"Bearer {staff_token}"}
    system = {"Authorization": f"Bearer {system_token}"}
    result = Loaded()
    questionnaires: dict[str, dict[str, Any]] = {}
    pending: list[dict[str, Any]] = []
    bar = progress("customers", n) if progress else None

    def one(i: int) -> tuple[Plan, str | None]:
        plan = plan_customer(seed, i, today)
        return plan, _load_customer(client, plan, staff, system, today, questionnaires)

    def batches(rows: list[dict[str, Any]], size: int = 1000) -> Iterable[list[dict[str, Any]]]:
        for start in range(0, len(rows), size):
            yield rows[start : start + size]

    with ThreadPoolExecutor(concurrency) as pool:
        for plan, cid in pool.map(one, range(n)):
            if cid is None:
                result.skipped += 1
            else:
                result.customers += 1
                pending += [{**t, "customer_id": cid} for t in plan.transactions]
            if bar:
                bar.advance()
        if bar:
            bar.close()
        tbar = progress("transactions", len(pending)) if progress else None

        def send(batch: list[dict[str, Any]]) -> int:
            resp = _check(client.post("/v1/transactions:batch", json={"items": batch}, headers=system), 200).json()
            if resp["rejected"]:
                raise DemoError(f"transactions rejected: {resp['rejected'][:3]}")
            return resp["recorded_count"]

        for count, batch in zip(pool.map(send, batches(pending)), batches(pending), strict=True):
            result.transactions += count
            if tbar:
                tbar.advance(len(batch))
        if tbar:
            tbar.close()
    return result


def open_organisation(client: httpx.Client, admin: dict[str, str]) -> int:
    """Opens every branch of organisation() not open yet; how many were opened."""
    opened = 0
    for body in organisation():
        resp = client.post("/v1/branches", json=body, headers=admin)
        if resp.status_code == 409 and resp.json().get("code") == "branch_exists":
            continue
        _check(resp, 201)
        opened += 1
    return opened


def _load_customer(
    client: httpx.Client,
    plan: Plan,
    staff: dict[str, str],
    system: dict[str, str],
    today: date,
    questionnaires: dict[str, dict[str, Any]],
) -> str | None:
    """Registers one planned customer with its contacts, consents, risk assessment, agreements and
    yesterday's assets; None when the customer was loaded before."""
    resp = client.post("/v1/customers", json=plan.body, headers=staff)
    if resp.status_code == 409 and resp.json().get("code") == "customer_duplicate":
        return None  # loaded before
    cid: str = _check(resp, 201).json()["id"]
    base = f"/v1/customers/{cid}"
    for contact in plan.contacts:
        _check(client.post(f"{base}/contacts", json=contact, headers=staff), 201, 409)
    for consent in plan.consents:
        _check(client.post(f"{base}/consents", json=consent, headers=staff), 201)
    if plan.do_not_contact:
        body = {"do_not_contact": True, "reason": "customer asked not to be contacted"}
        _check(client.put(f"{base}/do-not-contact", json=body, headers=staff), 200)
    if plan.risk_answers is not None:
        _assess_risk(client, base, plan, staff, questionnaires)
    for agreement in plan.agreements:
        _check(client.post(f"{base}/agreements", json=agreement, headers=staff), 201)
    day = (today - timedelta(days=1)).isoformat()
    aum = f"{plan.aum_fen // 100}.{plan.aum_fen % 100:02d}"
    _check(client.put(f"{base}/assets/{day}", json={"aum": aum}, headers=system), 200, 201)
    return cid


def _assess_risk(
    client: httpx.Client, base: str, plan: Plan, staff: dict[str, str], questionnaires: dict[str, dict[str, Any]]
) -> None:
    """Answers the questionnaire of the customer's type (read once per type) with the planned answers."""
    qtype = "individual" if plan.body["type"] == "individual" else "organisation"
    if qtype not in questionnaires:
        questionnaires[qtype] = _check(client.get(f"{base}/risk-questionnaire", headers=staff), 200).json()
    q = questionnaires[qtype]
    body = {
        "questionnaire_id": q["id"],
        "questionnaire_version": q["version"],
        "answers": _answers(q, plan.risk_answers),
    }
    _check(client.post(f"{base}/risk-assessments", json=body, headers=staff), 201)


def _has_customers(client: httpx.Client, staff_token: str) -> bool:
    resp = _check(
        client.get("/v1/customers", params={"limit": 1}, headers={"Authorization": f"Bearer {staff_token}"}), 200
    )
    return bool(resp.json()["items"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m services.profile.tools.demo",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--n", type=int, default=10_000, help="how many customers")
    p.add_argument("--seed", type=int, default=1, help="the same seed loads the same data")
    p.add_argument("--url", default="http://127.0.0.1:8001", help="profile's base URL")
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    p.add_argument("--if-empty", action="store_true", help="load only when the service has no customer yet")
    args = p.parse_args(argv)
    settings = ProfileSettings()
    # the head office: the demo's customers are in every province, beyond any one branch's reach
    admin = mint_for(settings, sub="demo-loader", role="admin", ttl_seconds=7200)
    staff = admin
    # core banking's share: it records transactions and asset snapshots, nothing else
    system = mint_for(settings, sub="demo-core-banking", role="system", scope="transactions:write", ttl_seconds=7200)
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    with PatientClient(base_url=args.url, timeout=60.0, limits=limits) as client:
        try:
            if args.if_empty and _has_customers(client, staff):
                print("profile already has customers; nothing loaded")
                return 0
            started = time.monotonic()
            loaded = load(
                client,
                n=args.n,
                seed=args.seed,
                staff_token=staff,
                system_token=system,
                admin_token=admin,
                concurrency=args.concurrency,
                progress=Progress,
            )
        except (DemoError, httpx.HTTPError) as err:
            print(f"\ndemo load failed: {err}", file=sys.stderr)
            return 1
    took = time.monotonic() - started
    print(
        f"loaded {loaded.customers} customers ({loaded.skipped} already there) and "
        f"{loaded.transactions} transactions in {took:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
