"""`python -m bench.scale`: the suite at bank scale on PostgreSQL (not part of `make bench`). Loads N
customers (default 10,000,000), made by PostgreSQL itself, into databases of their own (<prefix>_profile,
...: 10 transactions per customer over 12 months, a loyalty account and segmentation features for every one),
states the load time, then measures against that data: bulk registration and transaction ingest
through the API, the daily recompute, the overview's p50/p99 under load (and the same at --baseline
customers, 10,000 by default, for the ratio), the earning consumer on JetStream with 1 and 2 replicas,
each database's size and each process's memory. Prints a table; --json writes the figures.

    python -m bench.scale [--customers 10000000] [--baseline 10000] [--measure all] [--json out.json]

A report, not a test: aims missed print as such and exit 0; a failure to run exits 1."""

import argparse
import json
import os
import signal
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.procs import Pinning, Tracked
from bench.report import say
from bench.run import _raise_interrupt
from bench.scale_load import database_sizes_mb, drop_databases, load_all
from bench.scale_measure import (
    Processes,
    consumer_rate,
    earning_rule,
    ingest_rate,
    overview_latency,
    overview_parts,
    recompute_seconds,
    registration_rate,
)

MEASURES = ("registration", "ingest", "recompute", "overview", "consumer", "sizes", "memory")
AIMS = {"ingest_txns_per_s": 20_000, "consumer_1_events_per_s": 5_000, "overview_p99_ratio": 1.5, "recompute_s": 600}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    p.add_argument("--customers", type=int, default=10_000_000, help="customers loaded (10 transactions each)")
    p.add_argument("--baseline", type=int, default=10_000, help="customers of the overview's reference run (0: none)")
    p.add_argument("--measure", default="all", help=f"comma-separated, of {', '.join(MEASURES)} (default all)")
    p.add_argument(
        "--prefix", default="scale", help="database names: <prefix>_profile, ... (baseline: <prefix>_base_*)"
    )
    p.add_argument("--registration-calls", type=int, default=5, help="calls of 1,000 to POST /v1/customers:batch")
    p.add_argument("--ingest-calls", type=int, default=20, help="calls of 1,000 to POST /v1/transactions:batch")
    p.add_argument("--overview-seconds", type=int, default=10, help="measured seconds of overview reads")
    p.add_argument("--connections", type=int, default=16, help="wrk connections for the overview")
    p.add_argument("--events", type=int, default=20_000, help="events for each consumer figure")
    p.add_argument("--keep", action="store_true", help="keep the databases (dropped at the end by default)")
    p.add_argument("--json", type=Path, help="write the figures here")
    args = p.parse_args(argv)
    args.measures = MEASURES if args.measure == "all" else tuple(m.strip() for m in args.measure.split(","))
    if unknown := set(args.measures) - set(MEASURES):
        p.error(f"unknown measures: {', '.join(sorted(unknown))}")
    if args.customers < 1 or args.baseline < 0:
        p.error("--customers must be positive, --baseline not negative")
    return args


class Run:
    def __init__(self, args: argparse.Namespace, tmp: Path, pinning: Pinning, tracked: Tracked):
        self.args, self.tmp, self.pinning, self.tracked = args, tmp, pinning, tracked
        self.figures: dict[str, Any] = {
            "customers": args.customers,
            "measured_at": datetime.now(UTC).isoformat(),
            "cpus": os.cpu_count(),
            "load_average_at_start": round(os.getloadavg()[0], 1),
        }
        self.failures: list[str] = []

    def step(self, name: str, fn: Callable[[], Any]) -> Any:
        try:
            value = fn()
        except Exception as err:  # noqa: BLE001 - one failed figure must not lose the others
            self.failures.append(f"{name}: {type(err).__name__}: {err}")
            say(f"  {name} FAILED: {type(err).__name__}: {err}")
            return None
        say(f"  {name}: {value}")
        return value

    def want(self, measure: str) -> bool:
        return measure in self.args.measures

    def overview(self, prefix: str, customers: int) -> dict[str, Any] | None:
        """The overview at `customers` (loaded under `prefix` first unless it is the main run)."""
        if prefix != self.args.prefix:
            say(f"loading the overview's reference: {customers:,} customers")
            load_all(prefix, customers, datetime.now(UTC))
        procs = Processes({s: u for s, u in self._urls(prefix).items()}, self.tmp, self.pinning, self.tracked)
        try:
            procs.start_suite()
            gateway = procs.servers["gateway"].url
            partial = overview_parts(gateway, customers)
            result = overview_latency(
                gateway,
                customers,
                self.tmp,
                self.pinning,
                self.tracked,
                self.args.overview_seconds,
                self.args.connections,
            )
            return {
                "requests_per_s": result.requests_per_s,
                "p50_ms": result.latency_ms.get("p50"),
                "p99_ms": result.latency_ms.get("p99"),
                "errors": result.errors,
                "partial": partial,
            }
        finally:
            procs.stop_all()
            if prefix != self.args.prefix and not self.args.keep:
                drop_databases(prefix)

    def _urls(self, prefix: str) -> dict[str, str]:
        from bench.scale_load import SERVICES, database_url

        return {s: database_url(prefix, s) for s in SERVICES}

    def run(self) -> None:
        args, f = self.args, self.figures
        say(f"loading {args.customers:,} customers into {args.prefix}_* ...")
        loaded = load_all(args.prefix, args.customers, datetime.now(UTC))
        f["load_s"] = loaded.seconds
        f["transactions"] = args.customers * 10
        say(f"  load: {loaded.seconds}")
        procs = Processes(loaded.urls, self.tmp, self.pinning, self.tracked)
        try:
            procs.start_suite()
            profile = procs.servers["profile"].url
            if self.want("registration"):
                f["registrations_per_s"] = self.step(
                    "bulk registration (customers/s)",
                    lambda: round(registration_rate(profile, args.registration_calls)),
                )
            if self.want("ingest"):
                f["ingest_txns_per_s"] = self.step(
                    "transaction ingest (transactions/s)",
                    lambda: round(ingest_rate(profile, args.customers, args.ingest_calls)),
                )
            if self.want("memory"):
                f["memory_mb"] = self.step("memory after the writes (RSS MB)", procs.memory_mb)
        finally:
            procs.stop_all()
        if self.want("recompute"):
            got = self.step("daily recompute (s, changed)", lambda: recompute_seconds(loaded.urls["segmentation"]))
            if got:
                f["recompute_s"], f["recompute_changed"] = round(got[0], 2), got[1]
        if self.want("overview"):
            f["overview"] = self.step("overview at scale", lambda: self.overview(args.prefix, args.customers))
            if args.baseline:
                base = f"{args.prefix}_base"
                f["overview_baseline"] = self.step(
                    f"overview at {args.baseline:,}", lambda: self.overview(base, args.baseline)
                )
                f["baseline_customers"] = args.baseline
        if self.want("consumer"):
            earning_rule(loaded.urls["loyalty"])
            consumer_procs = Processes(loaded.urls, self.tmp, self.pinning, self.tracked)
            for replicas in (1, 2):
                f[f"consumer_{replicas}_events_per_s"] = self.step(
                    f"earning consumer on JetStream, {replicas} replica(s) (events/s)",
                    lambda r=replicas: round(
                        consumer_rate(consumer_procs, args.customers, args.events, r, first=1 + (r - 1) * args.events)
                    ),
                )
        if self.want("sizes"):
            f["database_mb"] = self.step("database sizes (MB)", lambda: database_sizes_mb(loaded.urls))
        if not args.keep:
            drop_databases(args.prefix)


def table(f: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [("customers / transactions loaded", f"{f['customers']:,} / {f.get('transactions', 0):,}")]
    if load := f.get("load_s"):
        rows.append(
            (
                "load (s): " + ", ".join(f"{k} {v}" for k, v in load.items() if k != "total"),
                str(load["total"]),
            )
        )

    def add(label: str, key: str, aim: str = "") -> None:
        if f.get(key) is not None:
            rows.append((label, f"{f[key]:,}" + (f"  (aim {aim})" if aim else "")))

    add("bulk registration, customers/s", "registrations_per_s")
    add("transaction ingest, transactions/s", "ingest_txns_per_s", "20,000")
    add("daily recompute, s", "recompute_s", "< 600 at 10M")
    for key, label in (
        ("overview", f"{f['customers']:,}"),
        ("overview_baseline", f"{f.get('baseline_customers', 0):,}"),
    ):
        if o := f.get(key):
            rows.append(
                (
                    f"overview at {label}: requests/s, p50, p99 ms",
                    f"{o['requests_per_s']:,.0f}, {o['p50_ms']}, {o['p99_ms']}",
                )
            )
    if f.get("overview") and f.get("overview_baseline") and f["overview_baseline"]["p99_ms"]:
        ratio = f["overview"]["p99_ms"] / f["overview_baseline"]["p99_ms"]
        f["overview_p99_ratio"] = round(ratio, 2)
        add("overview p99 ratio (scale / baseline)", "overview_p99_ratio", "<= 1.5")
    add("earning consumer on JetStream, 1 replica, events/s", "consumer_1_events_per_s", "5,000")
    add("the same, 2 replicas, events/s", "consumer_2_events_per_s")
    for key, label in (("database_mb", "database size MB"), ("memory_mb", "process RSS MB")):
        if d := f.get(key):
            rows.append((label, ", ".join(f"{k} {v}" for k, v in d.items())))
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)  # a killed run still stops what it started
    pinning, tracked = Pinning.detect(), Tracked()
    say(f"pinning: {pinning.note}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmpdir:
        run = Run(args, Path(tmpdir), pinning, tracked)
        try:
            run.run()
        finally:
            tracked.stop_all()
    rows = table(run.figures)
    width = max(len(label) for label, _ in rows)
    say()
    for label, value in rows:
        say(f"{label:<{width}}  {value}")
    run.figures["load_average_at_end"] = round(os.getloadavg()[0], 1)
    run.figures["failures"] = run.failures
    if args.json:
        args.json.write_text(json.dumps(run.figures, indent=2, default=str) + "\n")
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
