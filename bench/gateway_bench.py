"""`python -m bench.gateway_bench`: the gateway's figures in one run. A customer read directly from
profile, through the gateway and through nginx as a plain reverse proxy (the reference for what a
proxy costs), and the customer overview's requests/s with p50/p99 latency (profile plus stand-ins for
the services still being built). Each from wrk in a separate pinned process; ratios from this run
only. A report, not a test: exits 0 when an aim is missed, non-zero only when something failed to run.

The gateway runs with its protections on (rate limits checked on every request, breakers, security
headers), its limits raised so that wrk's one caller is never refused."""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench import wrk
from bench.procs import ServerError, Tracked, free_port
from bench.report import Report, Row, print_table, say, write_json
from bench.run import FAILURES, ROOT, Bench, _raise_interrupt, parse_args

NGINX_FALLBACK = "/usr/sbin/nginx"  # not on a non-root PATH
RESULTS = ROOT / "bench" / "results" / "gateway.json"
AIM_GATEWAY_OVER_DIRECT = 0.9
AIM_GATEWAY_OVER_NGINX = 0.9
STANDINS = ("segmentation", "loyalty", "feedback")
# Far above wrk's rate, so that every request is checked and none refused.
UNLIMITED = {"GATEWAY_RATE_LIMIT_READS": "100000000/minute", "GATEWAY_RATE_LIMIT_WRITES": "100000000/minute"}

NGINX_CONF = """worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    upstream profile {{ server 127.0.0.1:{upstream}; keepalive 64; keepalive_timeout 4s; }}
    server {{
        listen 127.0.0.1:{port};
        location = /health/live {{ return 200 '{{"status":"ok"}}'; }}
        location /api/v1/ {{
            proxy_pass http://profile/v1/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


class Nginx:
    """nginx with one worker on a generated config in the run's temporary directory; duck-types the
    parts of bench.procs.Server that Bench.load reads (name, pid, alive)."""

    name = "nginx"

    def __init__(self, bench: Bench, upstream_port: int, cpu: int | None, binary: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf = bench.tmp / "nginx.conf"
        self.conf.write_text(NGINX_CONF.format(tmp=bench.tmp, upstream=upstream_port, port=self.port))
        self.cmd = [*bench.pinning.prefix(cpu), binary, "-p", str(bench.tmp), "-c", str(self.conf)]
        self.tracked = bench.tracked
        self.proc: subprocess.Popen | None = None
        self.log = bench.tmp / "nginx.out"

    def start(self) -> "Nginx":
        with self.log.open("wb") as log:
            self.proc = self.tracked.popen(self.cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        for _ in range(100):
            if self.proc.poll() is not None:
                raise ServerError(f"nginx exited with {self.proc.returncode}: {self.log.read_text()[-1000:]}")
            try:
                if httpx.get(self.url + "/health/live", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise ServerError("nginx did not answer within 10 s")

    @property
    def pid(self) -> int | None:
        # The master forks one worker that does the work; CPU is charged to the worker.
        if self.proc is None:
            return None
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            children = []
        return int(children[0]) if children else self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            self.tracked.stop(self.proc)


class GatewayBench(Bench):
    def gateway_env(self, profile_url: str, port: int, **extra: str) -> dict[str, str]:
        return {
            "GATEWAY_PROFILE_URL": profile_url,
            "GATEWAY_PORT": str(port),
            "GATEWAY_LOG_LEVEL": "WARNING",
            **UNLIMITED,
            **extra,
        }

    def start_proxy(self, name: str, srv, ids_file: Path):
        """Starts a proxy server and checks one read through it; None (reported) when it fails."""
        try:
            srv.start()
            self.running.append(srv)
            self.check_read(srv.url, "/api/v1/customers/", ids_file)
            say(f"  {name} on {srv.url}")
            return srv
        except FAILURES as err:
            self.report.fail(name, err)
            self.running = [s for s in self.running if s is not srv]
            srv.stop()
            return None

    def gateway_server(self, profile):
        say("3. Through the gateway: GET /api/v1/customers/{id}")
        port = free_port()
        return self.server(
            "gateway", self.args.gateway_app, self.gateway_cpu(), self.gateway_env(profile.url, port), port=port
        )

    def nginx_server(self, profile):
        say("4. Through nginx (1 worker, upstream keep-alive): GET /api/v1/customers/{id}")
        nginx = wrk.installed("nginx", "nginx", NGINX_FALLBACK)
        if nginx is None:
            self.report.notes["nginx"] = "not installed"
            say("  nginx: not installed (apt-get install -y nginx): skipped")
            return None
        return Nginx(self, profile.port, self.gateway_cpu(), nginx)

    def overview(self, profile, ids_file: Path) -> None:
        say(
            "5. Customer overview: GET /api/v1/customers/{id}/overview (profile real; segmentation, loyalty and "
            "feedback stand-ins from tests/gateway/standins.py)"
        )
        standins = {}
        port = free_port()
        try:
            for name in STANDINS:
                standins[name] = self.server(
                    name, "tests.gateway.standins:create_standin", self.pinning.server_cpu, {"STANDIN_SERVICE": name}
                ).start()
                self.running.append(standins[name])
            urls = {f"GATEWAY_{name.upper()}_URL": s.url for name, s in standins.items()}
            srv = self.server(
                "gateway",
                self.args.gateway_app,
                self.gateway_cpu(),
                self.gateway_env(profile.url, port, **urls),
                port=port,
            ).start()
            standins["gateway"] = srv
            self.running.append(srv)
            overview_ids = self.tmp / "overview_ids.txt"
            overview_ids.write_text("".join(f"{i}/overview\n" for i in ids_file.read_text().split()))
            first = ids_file.read_text().split()[0]
            got = httpx.get(
                f"{srv.url}/api/v1/customers/{first}/overview",
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=10,
            )
            if got.status_code != 200 or got.json().get("partial"):
                raise ServerError(f"overview gave {got.status_code}: {got.text[:300]}")
            self.load(
                "overview",
                "overview",
                srv.url,
                "read.lua",
                lambda _run: [str(overview_ids), self.token, "/api/v1/customers/"],
            )
        except FAILURES as err:
            self.report.fail("overview", err)
        finally:
            for s in standins.values():
                s.stop()
            self.running = [s for s in self.running if s not in standins.values()]
            say()

    def figures(self) -> None:
        srv = None
        try:
            srv = self.profile_start()
            ids_file = self.seed(srv)
            self.check_read(srv.url, "/v1/customers/", ids_file)
            say()
        except FAILURES as err:
            self.report.fail("profile", err)
            if srv:
                srv.stop()
            return
        read = "read.lua"
        via = lambda _run: [str(ids_file), self.token, "/api/v1/customers/"]  # noqa: E731
        figures = [
            ("profile_read", "direct read", srv.url, read, lambda _run: [str(ids_file), self.token, "/v1/customers/"])
        ]
        proxies = []
        for name, key, make in (
            ("gateway", "gateway_read", self.gateway_server),
            ("nginx", "nginx_read", self.nginx_server),
        ):
            server = make(srv)
            started = self.start_proxy(name, server, ids_file) if server else None
            if started:
                proxies.append(started)
                figures.append((key, f"{name} read", started.url, read, via))
        say()
        say(f"Reads, {self.args.rounds} interleaved round(s): " + ", ".join(f[1] for f in figures))
        try:
            self.interleaved(figures)
        except FAILURES as err:
            self.report.fail("reads", err)
        finally:
            for proxy in proxies:
                self.running = [s for s in self.running if s is not proxy]
                proxy.stop()
            say()
        self.overview(srv, ids_file)
        srv.stop()


def rows(report: Report) -> list[Row]:
    runs = report.runs

    def rps(name: str) -> float | None:
        return runs[name]["requests_per_s"] if name in runs else None

    def lat(name: str) -> str:
        lm = runs.get(name, {}).get("latency_ms")
        return f"{lm.get('p50', float('nan')):.2f} / {lm.get('p99', float('nan')):.2f}" if lm else "-"

    out = []
    for key, label in (
        ("profile_read", "direct read"),
        ("gateway_read", "gateway read"),
        ("nginx_read", "nginx read"),
        ("overview", "overview"),
    ):
        value = rps(key)
        out.append(Row(f"{label} requests/s", f"{value:,.0f}" if value else "not measured"))
        out.append(Row(f"{label} latency p50 / p99 (ms)", lat(key)))
        errors = (runs[key]["non_2xx_3xx"] + sum(runs[key]["socket_errors"].values())) if key in runs else 0
        if errors:
            out.append(Row(f"{label} errors (non-2xx/3xx + socket)", f"{errors:,}", "= 0", "MISS"))

    def ratio(num: str, den: str, aim: float | None, label: str) -> None:
        a, b = rps(num), rps(den)
        if a is None or not b:
            out.append(Row(label, "not measured", f">= {aim:g}" if aim else ""))
            return
        r = a / b
        verdict = ("PASS" if r >= aim else "MISS") if aim else ""
        out.append(Row(label, f"{r:.2f}", f">= {aim:g}" if aim else "", verdict))

    ratio("gateway_read", "profile_read", AIM_GATEWAY_OVER_DIRECT, "gateway / direct")
    ratio("nginx_read", "profile_read", None, "nginx / direct")
    ratio("gateway_read", "nginx_read", AIM_GATEWAY_OVER_NGINX, "gateway / nginx")
    for key, server, label in (
        ("gateway_read", "gateway", "gateway CPU per proxied read (ms)"),
        ("nginx_read", "nginx", "nginx CPU per proxied read (ms)"),
        ("overview", "gateway", "gateway CPU per overview (ms)"),
    ):
        ms = runs.get(key, {}).get("server_cpu_ms_per_request", {}).get(server)
        if ms is not None:
            out.append(Row(label, f"{ms:.2f}"))
    if report.other_load:
        worst = max(report.other_load, key=report.other_load.get)
        out.append(Row("other load during a figure, worst (% CPU)", f"{report.other_load[worst]:.0f} ({worst})"))
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not any(a.startswith("--json") for a in argv):
        argv += ["--json", str(RESULTS)]
    args: argparse.Namespace = parse_args(argv)
    os.chdir(ROOT)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    started_at, started = datetime.now(UTC), time.monotonic()
    tracked, report = Tracked(), Report()
    interrupted = False
    with tempfile.TemporaryDirectory(prefix="psgwbench-") as tmp:
        try:
            bench = GatewayBench(args, tracked, report, Path(tmp))
            bench.preamble()
            bench.figures()
        except KeyboardInterrupt:
            interrupted = True
            say("\ninterrupted: stopping every server started")
        finally:
            tracked.stop_all()
    summary = rows(report)
    print_table(summary)
    elapsed = time.monotonic() - started
    say(f"\n  run took {elapsed:.0f} s; compare ratios within one run (machines are noisy)")
    exit_code = 130 if interrupted else (1 if report.errors else 0)
    try:
        write_json(args.json, args, report, summary, started_at, elapsed, exit_code)
    except OSError as err:
        say(f"  could not write {args.json}: {err}")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
