"""Read models equal their sources, proven with random operations across the real processes.

Profile, loyalty, segmentation, feedback and the gateway run as the suite runs them, each on its own
database (SQLite, then PostgreSQL). A seeded random plan of operations is driven through their APIs:
customers registered (enrolled in loyalty by the loyalty_programme agreement, by staff, or not at
all), transactions ingested (recent, older, and over a year old so that their points are already due
to expire), reversed (sometimes twice) and batches replayed, earning rules and rewards set up,
redemptions made and cancelled, staff and supervisor adjustments both ways, the expiry job run,
activity bonuses awarded, customer events scheduled, registered for (seats and waitlists),
cancelled and checked in. Once every feed has drained (each consumer's cursor at its owner's head,
the heads unmoved), at a few `settle` steps along the way and at the end, for every customer:

- segmentation's `points_balance` equals loyalty's balance (0 without an account), and loyalty's own
  ledger check finds no account whose balance, ledger and lots disagree;
- segmentation's 30- and 90-day transaction counts and amounts, and its last transaction time, equal
  profile's customer summary;
- every part of the gateway's customer overview equals the owning service's own answer;

and at the end every event on every feed keeps the event contract (docs/events/).

The plan is a function of the seed alone; the steps do not wait for the feeds (except for loyalty's
enrolment after an agreement), so a step may race the consumers, and what it meets (a redemption
refused for want of points not yet earned, say) may differ between two runs of one seed. Every
answer a step may legitimately get is accepted and logged; anything else fails the test at once.

Transactions are customer-initiated: segmentation's windows leave bank-initiated postings out by
design (docs/api-segmentation.md), while profile's summary counts every transaction. None occurs
within two days of a window's edge: profile's windows are rolling, segmentation's whole UTC days.

The seed is printed; `READ_MODEL_SEED` replays one, `READ_MODEL_OPS` sets how many operations (60).
On a failure the message names the seed and lists every operation with its outcome."""

import os
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.common.money import fen_to_str
from services.profile.service.identity import credit_code_check_char, resident_id_check_char
from tests.e2e.whole_suite import SERVICES, WholeSuite, drain, whole_suite  # noqa: F401 (a fixture)
from tests.event_contract import check_feed

pytestmark = pytest.mark.e2e

ENROL_DEADLINE = 30.0
BANK_ZONE = ZoneInfo("Asia/Shanghai")  # loyalty's business calendar: check-in is on the event's day
MAX_CUSTOMERS = 6
DAY = 86_400


# --- the plan -----------------------------------------------------------------------------------

EARN_KINDS = ("deposit", "withdrawal", "transfer", "bill_payment", "wealth_purchase", "loan_repayment")
EARN_WEIGHTS = (4, 2, 2, 2, 2, 1)  # deposits earn on every channel: most old ones leave points to expire
CHANNELS = ("counter", "mobile", "atm", "online")
REWARD_CODES = ("umbrella", "fee-voucher", "tea")
NAMES = ("王小明", "李华", "张伟", "刘洋", "陈静", "赵磊")


@dataclass(frozen=True)
class Op:
    """One step of the plan; customers, batches, redemptions and events are named by their index in
    the plan, so the plan is a pure function of the seed."""

    kind: str
    args: dict[str, Any]

    def __str__(self) -> str:
        def show(value: Any) -> str:
            return "[" + ", ".join(map(_show_txn, value)) + "]" if isinstance(value, list) else str(value)

        return " ".join([self.kind, *(f"{k}={show(v)}" for k, v in self.args.items())])


def _show_txn(t: dict[str, Any]) -> str:
    """A planned transaction: id, kind, channel, amount, days before the step, and what it reverses."""
    shown = f"{t['external_id']} {t['kind']} {t['channel']} {fen_to_str(t['amount_fen'])} {t['age'] / DAY:.1f}d"
    return shown + (f" of {t['reverses']}" if "reverses" in t else "")


def _age(rng: random.Random) -> float:
    """Seconds before now: inside 30 days, inside 90 but not 30, or over a year (their points are due
    to expire already). Never within two days of a window's edge: profile's windows are rolling,
    segmentation's are whole UTC days, and the two agree on every time not that close to an edge."""
    bucket = rng.choices(("recent", "older", "old"), weights=(60, 25, 15))[0]
    low, high = {"recent": (60, 27 * DAY), "older": (32 * DAY, 87 * DAY), "old": (400 * DAY, 500 * DAY)}[bucket]
    return round(rng.uniform(low, high), 3)


def make_plan(rng: random.Random, n: int) -> list[Op]:
    ops: list[Op] = []
    customers = 0
    originals: list[tuple[int, str]] = []  # (customer, external id) of every non-reversal sent
    ingests: list[int] = []
    redeems: list[int] = []
    events: list[int] = []
    registrants: dict[int, list[int]] = {}
    ext = iter(range(1, 10**6))

    def customer() -> int:
        return rng.randrange(customers)

    while len(ops) < n:
        weights = {
            "register": 100 if customers < 2 else (5 if customers < MAX_CUSTOMERS else 0),
            "sign_loyalty": 1,
            "ingest": 8,
            "reverse": 3 if originals else 0,
            "replay": 1 if ingests else 0,
            "adjust": 4,
            "redeem": 4,
            "cancel_redemption": 2 if redeems else 0,
            "expire": 1.5,
            "award": 1.5,
            "schedule_event": 2,
            "register_for_event": 4 if events else 0,
            "cancel_registration": 1.5 if events else 0,
            "check_in": 3 if events else 0,
            "settle": 1 if customers else 0,
        }
        kind = "register" if customers < 2 else rng.choices(list(weights), weights=list(weights.values()))[0]
        at = len(ops)
        if kind == "register":
            args = {
                "customer": customers,
                "type": rng.choices(("individual", "enterprise"), weights=(8, 2))[0],
                "enrol": rng.choices(("agreement", "staff", "none"), weights=(45, 40, 15))[0],
                "region_type": rng.choice(("urban", "rural", "peri_urban")),
                "digits": f"{rng.randrange(10**8):08d}",
            }
            customers += 1
        elif kind in ("sign_loyalty", "adjust", "redeem", "award"):
            args = {"customer": customer()}
            if kind == "adjust":
                args["points"] = rng.randint(50, 1500) if rng.random() < 0.6 else -rng.randint(20, 800)
            elif kind == "redeem":
                args |= {"reward": rng.choice(REWARD_CODES), "quantity": rng.choice((1, 1, 1, 2))}
            elif kind == "award":
                args["instance"] = f"referral-{rng.randrange(4)}"
        elif kind == "ingest":
            c = customer()
            items = []
            for _ in range(rng.randint(1, 3)):
                external_id = f"CB-{next(ext):06d}"
                items.append(
                    {
                        "external_id": external_id,
                        "kind": rng.choices(EARN_KINDS, weights=EARN_WEIGHTS)[0],
                        "channel": rng.choice(CHANNELS),
                        "amount_fen": rng.randint(1_000, 800_000),
                        "age": _age(rng),
                    }
                )
                originals.append((c, external_id))
            if rng.random() < 0.15:  # a reversal of one of the batch's own transactions, later in the batch
                original = rng.choice(items)
                reversal = {
                    "external_id": f"CB-{next(ext):06d}",
                    "kind": "reversal",
                    "reverses": original["external_id"],
                }
                items.append(original | reversal | {"age": round(rng.uniform(30, 3600), 3)})
            args = {"customer": c, "items": items}
            ingests.append(at)
        elif kind == "reverse":
            c, original = rng.choice(originals)  # sometimes one reversed already: a second reversal
            args = {
                "customer": c,
                "external_id": f"CB-{next(ext):06d}",
                "original": original,
                "age": round(rng.uniform(30, 3600), 3),
                "customer_initiated": rng.random() < 0.3,
            }
        elif kind == "replay":
            args = {"batch": rng.choice(ingests)}
        elif kind == "cancel_redemption":
            args = {"redemption": rng.choice(redeems)}
        elif kind in ("expire", "settle"):
            args = {}
        elif kind == "schedule_event":
            args = {
                "capacity": rng.randint(1, 3),
                "points_price": rng.choice((0, 0, 60, 150)),
                "attendance_points": rng.choice((0, 40, 100)),
            }
            events.append(at)
            registrants[at] = []
        else:  # register_for_event, cancel_registration, check_in
            event = rng.choice(events)
            # mostly someone registered for it in the plan (a seat, the waitlist or cancelled since)
            known = registrants[event] if kind != "register_for_event" and rng.random() < 0.8 else []
            args = {"event": event, "customer": rng.choice(known) if known else customer()}
            if kind == "register_for_event":
                registrants[event].append(args["customer"])
        if kind == "redeem":
            redeems.append(at)
        ops.append(Op(kind, args))
    return ops


# --- driving the services -----------------------------------------------------------------------


class UnexpectedAnswer(AssertionError):
    pass


@dataclass
class Driver:
    """Carries out a plan against the live services, keeping what later steps refer to (ids, the
    batches as sent) and a log line per step with its outcome."""

    suite: WholeSuite
    auth: Callable[..., dict[str, str]]
    http: dict[str, httpx.Client] = field(default_factory=dict)
    customers: list[str] = field(default_factory=list)
    batches: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    redemptions: dict[int, str | None] = field(default_factory=dict)
    events: dict[int, str] = field(default_factory=dict)
    rewards: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http = {name: httpx.Client(base_url=p.url, timeout=30) for name, p in self.suite.procs.items()}

    def close(self) -> None:
        for client in self.http.values():
            client.close()

    # answers --------------------------------------------------------------------------------

    def expect(self, resp: httpx.Response, ok: int, *codes: str) -> str:
        """The step's outcome: `ok`, or a 404/409 whose problem code is one the step may meet."""
        if resp.status_code == ok:
            return str(ok)
        code = resp.json().get("code") if resp.headers.get("content-type", "").endswith("json") else None
        if resp.status_code in (404, 409) and code in codes:
            return f"{resp.status_code} {code}"
        raise UnexpectedAnswer(f"{resp.request.method} {resp.request.url.path} -> {resp.status_code}: {resp.text}")

    # setup ----------------------------------------------------------------------------------

    def setup(self) -> None:
        """Earning rules (caps and a multiplier among them, in force for years), rewards, activities."""
        since = (datetime.now(UTC) - timedelta(days=3 * 365)).isoformat()
        loy, sup = self.http["loyalty"], self.auth("supervisor")
        rules = [
            {"code": "deposits", "kind": "deposit", "points_per_100_cny": 10},
            {
                "code": "mobile-transfers",
                "kind": "transfer",
                "channel": "mobile",
                "points_per_100_cny": 20,
                "daily_cap": 300,
            },
            {
                "code": "bills",
                "kind": "bill_payment",
                "points_per_100_cny": 5,
                "multipliers": [{"channel": "online", "factor": "2"}],
            },
            {
                "code": "wealth",
                "kind": "wealth_purchase",
                "points_per_100_cny": 8,
                "monthly_cap": 1000,
                "min_amount": "100.00",
            },
        ]
        for rule in rules:
            resp = loy.post("/v1/loyalty/rules", json={**rule, "name": rule["code"], "valid_from": since}, headers=sup)
            assert resp.status_code == 201, resp.text
        active_from = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        rewards = [
            {"code": "umbrella", "type": "gift", "points_price": 300, "stock": 4},
            {"code": "fee-voucher", "type": "voucher", "points_price": 150, "per_customer_limit": 2},
            {"code": "tea", "type": "gift", "points_price": 80},
        ]
        for reward in rewards:
            body = {**reward, "name": reward["code"], "active_from": active_from}
            resp = loy.post("/v1/loyalty/rewards", json=body, headers=sup)
            assert resp.status_code == 201, resp.text
            self.rewards[reward["code"]] = resp.json()["id"]
        activities = [
            {"code": "first-mobile", "trigger": "mobile_first_login", "points": 88},
            {"code": "attended", "trigger": "event_attended", "points": 20, "is_repeatable": True},
            {"code": "referral", "trigger": "manual", "points": 50, "is_repeatable": True},
        ]
        for activity in activities:
            resp = loy.post("/v1/loyalty/activities", json={**activity, "name": activity["code"]}, headers=sup)
            assert resp.status_code == 201, resp.text

    # the steps ------------------------------------------------------------------------------

    def run(self, index: int, op: Op) -> str:
        return getattr(self, f"do_{op.kind}")(index, **op.args)

    def do_register(self, index: int, *, customer: int, type: str, enrol: str, region_type: str, digits: str) -> str:
        body: dict[str, Any] = {
            "type": type,
            "region_type": region_type,
            "province": "北京",
            "city": "北京",
            "branch_code": "BJ0001",
        }
        if type == "individual":
            first17 = f"110105{1950 + int(digits[:2]) % 50}0{1 + int(digits[2]) % 9}1{int(digits[3]) % 9}{customer:03d}"
            body |= {"name": NAMES[customer % len(NAMES)], "resident_id": first17 + resident_id_check_char(first17)}
            body["phone"] = f"139{digits}"
        else:
            first17 = f"91110000{digits}{customer}"
            body |= {
                "name": f"北京示例{customer}号科技有限公司",
                "credit_code": first17 + credit_code_check_char(first17),
            }
            body |= {"contact_name": "李四", "phone": f"010-6{digits[:7]}"}
        resp = self.http["profile"].post("/v1/customers", json=body, headers=self.auth("staff"))
        assert resp.status_code == 201, resp.text
        cid = resp.json()["id"]
        self.customers.append(cid)
        self.wait_until_loyalty_knows(cid)
        if enrol == "agreement":
            return self.do_sign_loyalty(index, customer=customer)
        if enrol == "staff":
            resp = self.http["loyalty"].post(
                "/v1/loyalty/accounts", json={"customer_id": cid}, headers=self.auth("staff")
            )
            return self.expect(resp, 201)
        return "201"

    def wait_until_loyalty_knows(self, cid: str) -> None:
        """Loyalty learns a customer's branch from profile's feed, and until then the customer is out of
        every staff member's reach (404 customer_not_found): wait for it, so later steps do not depend on
        timing."""
        deadline = time.monotonic() + ENROL_DEADLINE
        while time.monotonic() < deadline:
            resp = self.http["loyalty"].get(f"/v1/loyalty/accounts/{cid}", headers=self.auth("staff"))
            if resp.status_code != 404 or resp.json()["code"] != "customer_not_found":
                return
            time.sleep(0.05)
        raise UnexpectedAnswer(f"loyalty did not learn {cid}'s branch within {ENROL_DEADLINE} s")

    def do_sign_loyalty(self, index: int, *, customer: int) -> str:
        """Signs the loyalty_programme agreement and waits until loyalty has the account (loyalty enrols
        from profile's feed), so that whether later steps find an account does not depend on timing."""
        cid = self.customers[customer]
        body = {"agreement_type": "loyalty_programme", "version": "2026.1", "channel": "counter"}
        resp = self.http["profile"].post(f"/v1/customers/{cid}/agreements", json=body, headers=self.auth("staff"))
        assert resp.status_code == 201, resp.text
        deadline = time.monotonic() + ENROL_DEADLINE
        while time.monotonic() < deadline:
            if self.http["loyalty"].get(f"/v1/loyalty/accounts/{cid}", headers=self.auth("staff")).status_code == 200:
                return "201 enrolled"
            time.sleep(0.05)
        raise UnexpectedAnswer(f"loyalty did not enrol {cid} within {ENROL_DEADLINE} s of the agreement")

    def _ingest(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        resp = self.http["profile"].post("/v1/transactions:batch", json={"items": items}, headers=self.auth("system"))
        assert resp.status_code == 200, resp.text
        return resp.json()

    def do_ingest(self, index: int, *, customer: int, items: list[dict[str, Any]]) -> str:
        now = datetime.now(UTC)
        sent = [
            {
                "external_id": item["external_id"],
                "customer_id": self.customers[customer],
                "kind": item["kind"],
                "amount": fen_to_str(item["amount_fen"]),
                "channel": item["channel"],
                "occurred_at": (now - timedelta(seconds=item["age"])).isoformat(),
            }
            | ({"reverses_external_id": item["reverses"], "customer_initiated": False} if "reverses" in item else {})
            for item in items
        ]
        result = self._ingest(sent)
        assert result["recorded_count"] == len(sent), result
        self.batches[index] = sent
        return f"200 recorded {len(sent)}"

    def do_reverse(
        self, index: int, *, customer: int, external_id: str, original: str, age: float, customer_initiated: bool
    ) -> str:
        [item] = [i for sent in self.batches.values() for i in sent if i["external_id"] == original]
        reversal = {
            "external_id": external_id,
            "customer_id": self.customers[customer],
            "kind": "reversal",
            "amount": item["amount"],
            "channel": item["channel"],
            "occurred_at": (datetime.now(UTC) - timedelta(seconds=age)).isoformat(),
            "customer_initiated": customer_initiated,
            "reverses_external_id": original,
        }
        result = self._ingest([reversal])
        assert result["recorded_count"] == 1, result
        return "200 recorded 1"

    def do_replay(self, index: int, *, batch: int) -> str:
        result = self._ingest(self.batches[batch])
        assert result["duplicate_count"] == len(self.batches[batch]) and result["recorded_count"] == 0, result
        return f"200 duplicates {result['duplicate_count']}"

    def do_adjust(self, index: int, *, customer: int, points: int) -> str:
        """Beyond 1,000 points an adjustment is under dual control: pending (202) until a second
        supervisor approves it, which posts it then."""
        resp = self.http["loyalty"].post(
            f"/v1/loyalty/accounts/{self.customers[customer]}/adjustments",
            json={"points": points, "reason": f"property step {index}"},
            headers=self.auth("staff"),
        )
        if resp.status_code != 202:
            return self.expect(resp, 201, "account_not_found", "points_insufficient", "approval_pending")
        approved = self.http["loyalty"].post(
            f"/v1/loyalty/approvals/{resp.json()['id']}/approve", headers=self.auth("supervisor")
        )
        return "202 then " + self.expect(approved, 200, "points_insufficient")

    def do_redeem(self, index: int, *, customer: int, reward: str, quantity: int) -> str:
        body = {"customer_id": self.customers[customer], "reward_id": self.rewards[reward], "quantity": quantity}
        resp = self.http["loyalty"].post("/v1/loyalty/redemptions", json=body, headers=self.auth("staff"))
        self.redemptions[index] = resp.json()["id"] if resp.status_code == 201 else None
        return self.expect(
            resp, 201, "account_not_found", "points_insufficient", "reward_out_of_stock", "reward_limit_reached"
        )

    def do_cancel_redemption(self, index: int, *, redemption: int) -> str:
        rid = self.redemptions[redemption]
        if rid is None:
            return "skipped (no redemption)"
        resp = self.http["loyalty"].post(f"/v1/loyalty/redemptions/{rid}/cancel", headers=self.auth("staff"))
        return self.expect(resp, 200, "redemption_cancelled")

    def do_expire(self, index: int) -> str:
        resp = self.http["loyalty"].post("/v1/loyalty/expiry-runs", headers=self.auth("admin"))
        outcome = self.expect(resp, 200)
        return f"{outcome} expired {resp.json()['points']} in {resp.json()['accounts']}"

    def do_award(self, index: int, *, customer: int, instance: str) -> str:
        body = {"customer_id": self.customers[customer], "activity_code": "referral", "instance": instance}
        resp = self.http["loyalty"].post("/v1/loyalty/activity-awards", json=body, headers=self.auth("staff"))
        return self.expect(resp, 201, "account_not_found", "activity_already_awarded")

    def do_settle(self, index: int) -> str:
        """The property holds at every quiet moment, not only at the end: drain the feeds and compare."""
        heads = drain(self.suite, self.http, self.auth("system"))
        problems = compare(self)
        if problems:
            raise UnexpectedAnswer("\n".join(problems))
        return f"drained at {heads}; {len(self.customers)} customers agree"

    def do_schedule_event(self, index: int, *, capacity: int, points_price: int, attendance_points: int) -> str:
        starts = _event_start(datetime.now(UTC))
        body = {
            "title": f"Appreciation {index}",
            "category": "appreciation",
            "branch_code": "BJ0001",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "capacity": capacity,
            "points_price": points_price,
            "attendance_points": attendance_points,
        }
        resp = self.http["loyalty"].post("/v1/loyalty/customer-events", json=body, headers=self.auth("supervisor"))
        assert resp.status_code == 201, resp.text
        self.events[index] = resp.json()["id"]
        return "201"

    def do_register_for_event(self, index: int, *, event: int, customer: int) -> str:
        resp = self.http["loyalty"].post(
            f"/v1/loyalty/customer-events/{self.events[event]}/registrations",
            json={"customer_id": self.customers[customer]},
            headers=self.auth("staff"),
        )
        outcome = self.expect(
            resp, 201, "account_not_found", "points_insufficient", "already_registered", "event_closed"
        )
        return f"{outcome} {resp.json()['status']}" if resp.status_code == 201 else outcome

    def do_cancel_registration(self, index: int, *, event: int, customer: int) -> str:
        resp = self.http["loyalty"].post(
            f"/v1/loyalty/customer-events/{self.events[event]}/registrations/{self.customers[customer]}/cancel",
            headers=self.auth("staff"),
        )
        return self.expect(resp, 200, "registration_not_found", "registration_cancelled", "event_closed")

    def do_check_in(self, index: int, *, event: int, customer: int) -> str:
        resp = self.http["loyalty"].post(
            f"/v1/loyalty/customer-events/{self.events[event]}/registrations/{self.customers[customer]}/check-in",
            headers=self.auth("staff"),
        )
        return self.expect(
            resp,
            200,
            "registration_not_found",
            "registration_not_seated",
            "already_checked_in",
            "check_in_closed",
        )


def _event_start(now: datetime) -> datetime:
    """Ten minutes ahead, so that registrations and cancellations (before the start) and check-in (on
    the event's day, in the bank's calendar) all stay open for the rest of the run; nearer when ten
    minutes would cross the bank's midnight. Within seconds of midnight a check-in may still meet
    check_in_closed, an answer the plan accepts."""
    start = now + timedelta(minutes=10)
    local = now.astimezone(BANK_ZONE)
    if start.astimezone(BANK_ZONE).date() != local.date():
        midnight = datetime(local.year, local.month, local.day, tzinfo=BANK_ZONE) + timedelta(days=1)
        start = max(now + timedelta(seconds=15), midnight.astimezone(UTC) - timedelta(seconds=1))
    return start


# --- draining and comparing ---------------------------------------------------------------------


def _get(client: httpx.Client, path: str, headers: dict[str, str]) -> Any:
    """The service's answer as JSON; None for a 404 (nothing of that kind)."""
    resp = client.get(path, headers=headers)
    if resp.status_code == 404:
        return None
    assert resp.status_code == 200, f"GET {path} -> {resp.status_code}: {resp.text}"
    return resp.json()


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _segments_part(memberships: dict[str, Any]) -> list[dict[str, Any]]:
    """Segmentation's memberships in the overview's shape: a {scheme, class} per built-in scheme (no
    name, no since), then each rule segment the customer is in."""
    shaped: list[dict[str, Any]] = [
        {"scheme": k, "class": v, "name": None, "since": None} for k, v in memberships["classes"].items()
    ]
    shaped += [
        {"scheme": f"rule:{s['segment_id']}", "class": "member", "name": s["name"], "since": s["since"]}
        for s in memberships["segments"]
    ]
    return shaped


def _without_clock(expiring: dict[str, Any] | None) -> dict[str, Any] | None:
    """The expiring-points answer without the read time it is measured from (`as_of`, `until`)."""
    return None if expiring is None else {k: v for k, v in expiring.items() if k not in ("as_of", "until")}


def compare(driver: Driver) -> list[str]:
    """Every disagreement between a read model and its source, one line each."""
    http, staff = driver.http, driver.auth("staff")
    problems = []
    resp = http["loyalty"].post("/v1/loyalty/ledger-checks", headers=driver.auth("admin"))  # bank-wide
    assert resp.status_code == 200, resp.text
    if resp.json()["mismatches"]:
        problems.append(f"loyalty's ledger check: {resp.json()['mismatches']}")
    for n, cid in enumerate(driver.customers):
        who = f"customer {n} ({cid})"
        account = _get(http["loyalty"], f"/v1/loyalty/accounts/{cid}", staff)
        memberships = _get(http["segmentation"], f"/v1/memberships?customer_id={cid}", staff)
        if memberships is None:
            problems.append(f"{who}: segmentation has no features")
            continue
        features = memberships["features"]
        balance = account["balance"] if account else 0
        if features["points_balance"] != balance:
            problems.append(f"{who}: segmentation's points {features['points_balance']} != loyalty's balance {balance}")
        summary = _get(http["profile"], f"/v1/customers/{cid}/summary", staff)
        for window in summary["windows"]:
            d = window["days"]
            seen = (features[f"txn_count_{d}"], features[f"txn_amount_{d}"])
            if seen != (window["count"], window["amount"]):
                problems.append(
                    f"{who}: segmentation's {d}-day window {seen} != profile's {(window['count'], window['amount'])}"
                )
        if _time(features["last_txn_at"]) != _time(summary["last_transaction_at"]):
            seen_last, own_last = features["last_txn_at"], summary["last_transaction_at"]
            problems.append(f"{who}: segmentation's last transaction {seen_last} != profile's {own_last}")
        problems += _compare_overview(driver, who, cid, account, memberships)
    return problems


def _compare_overview(
    driver: Driver, who: str, cid: str, account: dict[str, Any] | None, memberships: dict[str, Any]
) -> list[str]:
    http, staff = driver.http, driver.auth("staff")
    resp = http["gateway"].get(f"/api/v1/customers/{cid}/overview", headers=staff)
    assert resp.status_code == 200, resp.text
    overview = resp.json()
    complaints = _get(http["feedback"], f"/v1/complaints?customer_id={cid}&limit=50", staff)
    responses = _get(http["feedback"], f"/v1/surveys/responses?customer_id={cid}&limit=1", staff)
    own = {
        "profile": _get(http["profile"], f"/v1/customers/{cid}", staff),
        "risk_assessment": _get(http["profile"], f"/v1/customers/{cid}/risk-assessments/current", staff),
        "segments": _segments_part(memberships),
        "points": account,
        "points_expiring": _without_clock(
            _get(http["loyalty"], f"/v1/loyalty/accounts/{cid}/expiring?within=30d", staff)
        ),
        "open_complaints": [c for c in complaints["items"] if c["state"] not in ("closed", "withdrawn")],
        "latest_satisfaction": responses["items"][0] if responses["items"] else None,
    }
    seen = overview | {"points_expiring": _without_clock(overview["points_expiring"])}
    problems = [f"{who}: the overview is partial: {overview['partial']}"] if overview["partial"] else []
    problems += [
        f"{who}: the overview's {part} {seen.get(part)!r} != {part}'s own answer {value!r}"
        for part, value in own.items()
        if seen.get(part) != value
    ]
    return problems


# --- the property -------------------------------------------------------------------------------


def _seed() -> int:
    return int(os.environ["READ_MODEL_SEED"]) if os.environ.get("READ_MODEL_SEED") else secrets.randbelow(2**32)


def test_read_models_equal_their_sources_after_random_operations(whole_suite, auth):  # noqa: F811 (the fixture)
    seed, n = _seed(), int(os.environ.get("READ_MODEL_OPS", "60"))
    print(f"read-model property: READ_MODEL_SEED={seed} READ_MODEL_OPS={n}")
    plan = make_plan(random.Random(seed), n)
    driver = Driver(whole_suite, auth)
    try:
        driver.setup()
        for index, op in enumerate(plan):
            try:
                outcome = driver.run(index, op)
            except AssertionError as err:  # an answer no step may get, or read models differing at a settle
                pytest.fail(_report(seed, n, [f"step #{index} {op.kind}: {err}"], [*driver.log, f"#{index} {op}"]))
            driver.log.append(f"#{index} {op} -> {outcome}")
        heads = drain(whole_suite, driver.http, auth("system"))
        driver.log.append(f"drained: heads {heads}")
        problems = compare(driver)
        for owner in SERVICES:  # and what travelled on the feeds kept the event contract
            problems += check_feed(driver.http[owner], auth("system"), owner)
    finally:
        driver.close()
    print("\n".join(driver.log))
    assert not problems, _report(seed, n, problems, driver.log)


def _report(seed: int, n: int, problems: list[str], log: list[str]) -> str:
    """What went wrong, how to replay it, and every step with its outcome."""
    return "\n".join([f"READ_MODEL_SEED={seed} READ_MODEL_OPS={n}:", *problems, "steps:", *log])
