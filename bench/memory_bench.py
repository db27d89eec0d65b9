"""`python -m bench.memory_bench`: each process's resident memory after use. Starts the whole suite as
`make run` starts it (bench.suite), loads the demo data set through profile's API (customers, 90 days
of transactions, risk assessments, consents, agreements; the other services follow over the feeds),
then uses every service through the gateway: survey answers with Chinese free text, complaints, the
survey analyses and the free-text terms, customer overviews, segment analyses and a recompute,
loyalty accounts and statements. Then it prints each process's resident memory (VmRSS) and its peak
(VmHWM) against the suite's aim of 150 MB per process. A report, not a test."""

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx

from bench.suite import PROCESSES, ROOT, Suite, rss_mb, running_suite
from services.common.auth import mint_token
from services.common.config import DEV_JWT_SECRET

AIM_RSS_MB = 150.0
COMMENTS = [
    "网点排队时间太长，希望增加窗口",
    "柜员服务态度很好，办理业务很快",
    "手机银行转账失败但已经扣款，客服电话一直打不通",
    "理财产品收益说明不清楚，风险提示太简单",
    "自助取款机经常故障，取款不方便",
    "大堂经理耐心讲解养老金业务，非常满意",
    "利率比其他银行低，考虑转走存款",
    "积分兑换的礼品种类太少，兑换流程复杂",
]
SURVEY = {
    "title": "网点服务满意度",
    "channel": "app",
    "opens_at": "2020-01-01T00:00:00Z",
    "closes_at": "2099-01-01T00:00:00Z",
    "questions": [
        {"id": "nps", "type": "nps", "text": "您向亲友推荐邮储银行的可能性有多大"},
        {"id": "why", "type": "free_text", "text": "请告诉我们原因", "required": False, "max_chars": 500},
    ],
}


def token(role: str, sub: str | None = None) -> dict[str, str]:
    # staff and supervisors of the head office: their subtree is the whole demo tree, so the load reaches
    # every demo customer (an outlet's staff would see the few customers of that outlet)
    branch = "HQ0001" if role in ("staff", "supervisor") else None
    return {
        "authorization": f"Bearer {mint_token(DEV_JWT_SECRET, sub=sub or f'{role}-bench', role=role, branch=branch)}"
    }


class Load:
    """The calls through the gateway, with a count of each answer's status."""

    def __init__(self, suite: Suite, threads: int):
        self.http = httpx.Client(base_url=suite.url("gateway"), timeout=60)
        self.pool = ThreadPoolExecutor(threads)
        self.statuses: Counter[str] = Counter()

    def call(self, method: str, path: str, who: dict[str, str], **kw) -> httpx.Response:
        resp = self.http.request(method, path, headers=who, **kw)
        self.statuses[f"{method} {path.split('/')[3]} {resp.status_code}"] += 1
        return resp

    def each(self, items: list, fn: Callable) -> None:
        list(self.pool.map(fn, items))

    def customer_ids(self, limit: int) -> list[str]:
        ids: list[str] = []
        cursor = None
        while len(ids) < limit:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = self.call("GET", "/api/v1/customers", token("staff"), params=params).json()
            ids += [c["id"] for c in page["items"]]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return ids[:limit]


def use_the_suite(load: Load, ids: list[str], terms_calls: int) -> None:
    staff, supervisor = token("staff"), token("supervisor")
    survey = load.call("POST", "/api/v1/surveys", staff, json=SURVEY).json()
    load.call("POST", f"/api/v1/surveys/{survey['id']}/publish", staff)

    def answer(i_cid: tuple[int, str]) -> None:
        i, cid = i_cid
        body = {"answers": {"nps": i % 11, "why": f"{COMMENTS[i % len(COMMENTS)]}（第{i}位）"}}
        load.call("POST", f"/api/v1/surveys/{survey['id']}/responses", token("customer", cid), json=body)
        if i % 4 == 0:
            complaint = {
                "customer_id": cid,
                "channel": "mobile_app",
                "business_type": "savings",
                "cause": "systems",
                "description": COMMENTS[(i // 4) % len(COMMENTS)],
                "branch_code": "BJ0001",
            }
            load.call("POST", "/api/v1/complaints", token("customer", cid), json=complaint)

    load.each(list(enumerate(ids)), answer)
    for _ in range(terms_calls):
        load.call("GET", f"/api/v1/surveys/{survey['id']}/analysis/terms", staff, params={"limit": 50})
    for by in ("all", "month", "branch"):
        load.call("GET", f"/api/v1/surveys/{survey['id']}/analysis/breakdown", staff, params={"by": by})
    load.call("GET", f"/api/v1/surveys/{survey['id']}/analysis", staff)
    load.call("GET", f"/api/v1/surveys/{survey['id']}/analysis/drivers", staff)
    load.call("GET", "/api/v1/complaints", staff, params={"limit": 100})
    load.call("POST", "/api/v1/recomputes", supervisor)
    load.call("GET", "/api/v1/segments/analysis/classes", staff)
    load.call("GET", "/api/v1/segments/classes", staff)

    def read(cid: str) -> None:
        load.call("GET", f"/api/v1/customers/{cid}/overview", staff)
        load.call("GET", f"/api/v1/loyalty/accounts/{cid}/statement", staff)
        load.call("GET", "/api/v1/memberships", staff, params={"customer_id": cid})
        load.call("GET", f"/api/v1/customers/{cid}/summary", staff)

    load.each(ids, read)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.memory_bench", description=__doc__)
    p.add_argument("--customers", type=int, default=int(os.environ.get("BENCH_MEMORY_CUSTOMERS", "2000")))
    p.add_argument("--users", type=int, default=1000, help="customers who answer, complain and are read")
    p.add_argument("--terms", type=int, default=3, help="free-text term analyses asked for")
    p.add_argument("--threads", type=int, default=8)
    args = p.parse_args(argv)
    print(f"memory benchmark, {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    # the gateway's rate limits are per caller, and this load is a few callers doing a branch's work
    limits = {"GATEWAY_RATE_LIMIT_READS": "100000/minute", "GATEWAY_RATE_LIMIT_WRITES": "100000/minute"}
    with running_suite("memory-bench-", **limits) as suite:
        if suite is None:
            return 0
        pids = suite.pids()
        idle = {name: rss_mb(pid) for name, pid in pids.items()}
        started = time.monotonic()
        demo = [sys.executable, "-m", "services.profile.tools.demo", "--n", str(args.customers), "--seed", "1"]
        loaded = subprocess.run([*demo, "--url", suite.url("profile")], cwd=ROOT, capture_output=True, text=True)
        if loaded.returncode != 0:
            print(f"  the demo loader failed (exit {loaded.returncode}):\n{loaded.stderr[-3000:]}")
            return 1
        print(f"  demo data: {args.customers:,} customers with 90 days of transactions through profile's API")
        load = Load(suite, args.threads)
        ids = load.customer_ids(args.users)
        use_the_suite(load, ids, args.terms)
        time.sleep(5)  # the consumers finish what the load left on the feeds
        took = time.monotonic() - started
        failed = {k: n for k, n in load.statuses.items() if not k.endswith((" 200", " 201", " 202"))}
        calls = sum(load.statuses.values())
        print(f"  {calls:,} calls through the gateway in {took:.0f} s; not 2xx: {failed or 'none'}")
        print("  (a loyalty 404 is a customer the demo set gave no loyalty account)")
        if any(pids[name] != pid for name, pid in suite.pids().items()):
            print("  a process was restarted during the run: the figures below are not after the load")
        for name in PROCESSES:
            now, peak = rss_mb(pids[name]), rss_mb(pids[name], "VmHWM")
            verdict = "met" if now <= AIM_RSS_MB else "missed"
            print(
                f"  resident memory, {name}: idle {idle[name]:.0f} MB, after the load {now:.0f} MB, "
                f"peak {peak:.0f} MB (aim at most {AIM_RSS_MB:.0f} MB after the load: {verdict})"
            )
    print(f"  measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    return 0


if __name__ == "__main__":
    sys.exit(main())
