"""What a bench run found: figures per run, resident memory, other load, and the summary table
(with each aim, PASS or MISS) printed and written as JSON."""

import argparse
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench import wrk
from bench.procs import Server

AIM_PROFILE_OVER_FLOOR = 0.5
AIM_GATEWAY_OVER_DIRECT = 0.8
AIM_RSS_MB = 150.0
BUSY_WARNING = 20.0  # % of a CPU used by other processes, before or during a figure, that makes it suspect


@dataclass
class Row:
    figure: str
    value: str
    aim: str = ""
    verdict: str = ""  # PASS, MISS, or "" where there is no aim


@dataclass
class Report:
    runs: dict[str, dict] = field(default_factory=dict)
    rss_mb: dict[str, dict[str, float | None]] = field(default_factory=dict)
    other_load: dict[str, float] = field(default_factory=dict)  # % of a CPU used by others per figure
    notes: dict[str, object] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def fail(self, what: str, err: BaseException) -> None:
        msg = f"{what}: {err}"
        self.errors.append(msg)
        print(f"\n!! {msg}\n", flush=True)

    def rss(self, name: str, when: str, server: Server) -> float | None:
        value = server.rss_mb()
        self.rss_mb.setdefault(name, {})[when] = value
        return value


def say(text: str = "") -> None:
    print(text, flush=True)


def fmt_run(r: wrk.WrkResult) -> str:
    lat = r.latency_ms
    errs = f"non-2xx/3xx {r.non_2xx_3xx}, socket errors {sum(r.socket_errors.values())}"
    if any(r.socket_errors.values()):
        errs += " (" + ", ".join(f"{k} {v}" for k, v in r.socket_errors.items() if v) + ")"
    p50, p99 = lat.get("p50", float("nan")), lat.get("p99", float("nan"))
    return (
        f"{r.requests_per_s:,.0f} requests/s ({r.requests:,} in {r.seconds:g} s); "
        f"latency p50 {p50:.2f} ms, p99 {p99:.2f} ms; {errs}"
    )


def rss_rows(report: Report) -> list[Row]:
    rows = []
    for name in ("floor", "profile", "gateway"):
        seen = report.rss_mb.get(name)
        if not seen:
            rows.append(Row(f"{name} RSS idle / after (MB)", "not measured", f"< {AIM_RSS_MB:g}"))
            continue
        idle = seen.get("idle")
        after = seen.get("after")
        values = [v for v in seen.values() if v is not None]
        peak = max(values) if values else None
        text = f"{idle if idle is not None else '-'} / {after if after is not None else '-'}"
        rows.append(
            Row(
                f"{name} RSS idle / after (MB)",
                text,
                f"< {AIM_RSS_MB:g}",
                "" if peak is None else ("PASS" if peak < AIM_RSS_MB else "MISS"),
            )
        )
    return rows


def summary_rows(report: Report) -> list[Row]:
    runs = report.runs
    rows: list[Row] = []

    def rps(name: str) -> float | None:
        return runs[name]["requests_per_s"] if name in runs else None

    def lat(name: str) -> str:
        if name not in runs:
            return "-"
        lm = runs[name]["latency_ms"]
        return f"{lm.get('p50', float('nan')):.2f} / {lm.get('p99', float('nan')):.2f}"

    def ratio(num: float | None, den: float | None, aim: float, label: str) -> None:
        if num is None or den is None or den == 0:
            rows.append(Row(label, "not measured", f">= {aim:g}"))
            return
        r = num / den
        rows.append(Row(label, f"{r:.2f}", f">= {aim:g}", "PASS" if r >= aim else "MISS"))

    floor, direct, via = rps("floor"), rps("profile_read"), rps("gateway_read")
    rows.append(Row("floor requests/s", f"{floor:,.0f}" if floor else "not measured"))
    rows.append(Row("profile read requests/s", f"{direct:,.0f}" if direct else "not measured"))
    rows.append(Row("profile read latency p50 / p99 (ms)", lat("profile_read")))
    ratio(direct, floor, AIM_PROFILE_OVER_FLOOR, "profile / floor")
    gw_note = report.notes.get("gateway", "not measured").split(" (")[0]
    rows.append(Row("gateway read requests/s", f"{via:,.0f}" if via else gw_note))
    rows.append(Row("gateway read latency p50 / p99 (ms)", lat("gateway_read")))
    ratio(via, direct, AIM_GATEWAY_OVER_DIRECT, "gateway / direct")
    for run, server, label in (
        ("profile_read", "profile", "profile CPU per read (ms)"),
        ("gateway_read", "gateway", "gateway CPU per proxied read (ms)"),
        ("gateway_read", "profile", "profile CPU per read via gateway (ms)"),
    ):
        ms = runs.get(run, {}).get("server_cpu_ms_per_request", {}).get(server)
        if ms is not None:
            rows.append(Row(label, f"{ms:.2f}"))
    read_errors = [
        sum(runs[n]["socket_errors"].values()) + runs[n]["non_2xx_3xx"]
        for n in ("floor", "profile_read", "gateway_read")
        if n in runs
    ]
    if read_errors:
        total = sum(read_errors)
        rows.append(Row("read errors (non-2xx/3xx + socket)", f"{total:,}", "= 0", "PASS" if total == 0 else "MISS"))
    if "registrations" in runs:
        reg = runs["registrations"]
        seconds = reg["seconds"] or 1
        if reg["statuses"]:  # counted by register.lua's response(); wrk alone lumps 3xx with 2xx
            ok = sum(n for code, n in reg["statuses"].items() if 200 <= int(code) < 300)
            bad = sum(n for code, n in reg["statuses"].items() if not 200 <= int(code) < 300)
        else:
            ok, bad = reg["requests"] - reg["non_2xx_3xx"], reg["non_2xx_3xx"]
        bad += sum(reg["socket_errors"].values())
        rows.append(Row("registrations/s (2xx)", f"{ok / seconds:,.0f}"))
        rows.append(Row("registration latency p50 / p99 (ms)", lat("registrations")))
        rows.append(Row("registration non-2xx + socket errors", f"{bad:,}", "= 0", "PASS" if bad == 0 else "MISS"))
    else:
        rows.append(Row("registrations/s (2xx)", "not measured"))
    rows += rss_rows(report)
    if report.other_load:
        worst = max(report.other_load, key=report.other_load.get)
        pct = report.other_load[worst]
        rows.append(
            Row(
                "other load during a figure, worst (% CPU)",
                f"{pct:.0f} ({worst})",
                f"< {BUSY_WARNING:.0f}",
                "ok" if pct <= BUSY_WARNING else "NOISY",
            )
        )
    return rows


def print_table(rows: list[Row]) -> None:
    w1 = max(len(r.figure) for r in rows)
    w2 = max(len(r.value) for r in rows)
    w3 = max(len(r.aim) for r in rows + [Row("", "", "aim")])
    say("Summary")
    say(f"  {'figure':<{w1}}  {'value':>{w2}}  {'aim':<{w3}}  result")
    say(f"  {'-' * w1}  {'-' * w2}  {'-' * w3}  ------")
    for r in rows:
        say(f"  {r.figure:<{w1}}  {r.value:>{w2}}  {r.aim:<{w3}}  {r.verdict}".rstrip())


def write_json(
    path: Path,
    args: argparse.Namespace,
    report: Report,
    rows: list[Row],
    started_at: datetime,
    elapsed: float,
    exit_code: int,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "elapsed_s": round(elapsed, 1),
        "exit_code": exit_code,
        "interrupted": exit_code == 130,
        "load": {
            "seconds": args.seconds,
            "warmup": args.warmup,
            "connections": args.connections,
            "threads": args.threads,
            "timeout": args.timeout,
            "customers": args.customers,
        },
        "notes": report.notes,
        "runs": report.runs,
        "rss_mb": report.rss_mb,
        "other_load_pct_of_a_cpu": report.other_load,
        "summary": [r.__dict__ for r in rows],
        "errors": report.errors,
    }
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
