"""`make bench`: floor, profile read, the same read through the gateway, registrations and resident
memory, each from wrk in a separate pinned process, printed with ratios against their aims and saved
to bench/results/latest.json. A report, not a test: it exits 0 when an aim is missed and non-zero
only when something failed to run."""

import argparse
import importlib.util
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench import wrk
from bench.procs import OtherLoad, Pinning, Server, ServerError, Tracked, cpu_busy, free_port, pid_cpu_seconds
from bench.report import BUSY_WARNING, Report, fmt_run, print_table, say, summary_rows, write_json
from bench.seed import SeedError, seed_customers

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "lua"
RESULTS = ROOT / "bench" / "results" / "latest.json"
FAILURES = (ServerError, wrk.WrkError, SeedError, httpx.HTTPError, subprocess.SubprocessError, OSError)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument(
        "--seconds",
        type=int,
        default=_env_int("BENCH_SECONDS", 8),
        help="measured seconds per figure (env BENCH_SECONDS)",
    )
    p.add_argument(
        "--warmup",
        type=int,
        default=_env_int("BENCH_WARMUP", 2),
        help="warm-up seconds before each figure, not counted (env BENCH_WARMUP)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=_env_int("BENCH_ROUNDS", 3),
        help="interleaved rounds of the figures compared by a ratio; each keeps its median round (env BENCH_ROUNDS)",
    )
    p.add_argument(
        "--connections",
        type=int,
        default=_env_int("BENCH_CONNECTIONS", 64),
        help="wrk connections (env BENCH_CONNECTIONS)",
    )
    # One: wrk is pinned to one CPU, which it shares with the proxy in the proxy figures; a second
    # thread there adds only switches between the two.
    p.add_argument("--threads", type=int, default=_env_int("BENCH_THREADS", 1), help="wrk threads (env BENCH_THREADS)")
    p.add_argument(
        "--timeout",
        type=int,
        default=_env_int("BENCH_TIMEOUT", 10),
        help="wrk per-request timeout in seconds (env BENCH_TIMEOUT)",
    )
    p.add_argument(
        "--customers",
        type=int,
        default=_env_int("BENCH_CUSTOMERS", 2000),
        help="customers seeded through the API for the read figures (env BENCH_CUSTOMERS)",
    )
    p.add_argument(
        "--gateway-cpu",
        choices=("server", "load"),
        default=os.environ.get("BENCH_GATEWAY_CPU", "load"),
        help="pin the gateway with wrk (load, the default: a proxy runs on its own machine, as "
        "in the proxy figures of docs/architecture.md) or with profile (server: one CPU pays for both) "
        "(env BENCH_GATEWAY_CPU)",
    )
    p.add_argument(
        "--gateway-app",
        default=os.environ.get("BENCH_GATEWAY_APP", "gateway.app:create_app"),
        help="the gateway's uvicorn factory (env BENCH_GATEWAY_APP)",
    )
    p.add_argument(
        "--json",
        type=Path,
        default=Path(os.environ.get("BENCH_JSON", RESULTS)),
        help="where the JSON summary goes (env BENCH_JSON)",
    )
    args = p.parse_args(argv)
    if (
        min(args.seconds, args.connections, args.threads, args.timeout, args.customers, args.rounds) < 1
        or args.warmup < 0
    ):
        p.error("seconds, rounds, connections, threads, timeout and customers must be positive")
    if args.threads > args.connections:
        p.error("wrk needs at least one connection per thread")
    return args


class Bench:
    def __init__(self, args: argparse.Namespace, tracked: Tracked, report: Report, tmp: Path):
        self.args, self.tracked, self.report, self.tmp = args, tracked, report, tmp
        self.pinning = Pinning.detect()
        self.shape = wrk.LoadShape(
            seconds=args.seconds,
            warmup=args.warmup,
            connections=args.connections,
            threads=args.threads,
            timeout=args.timeout,
        )
        self.wrk = ""
        self.token = ""
        self.running: list[Server] = []  # whose CPU time is ours when other load is measured

    # -- plumbing -------------------------------------------------------------------------------------

    def base_env(self) -> dict[str, str]:
        """This environment without PROFILE_*/GATEWAY_* overrides, one development JWT secret for all."""
        from services.common.config import DEV_JWT_SECRET

        env = {k: v for k, v in os.environ.items() if not k.startswith(("PROFILE_", "GATEWAY_"))}
        env["SUITE_JWT_SECRET"] = DEV_JWT_SECRET
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        return env

    def server(
        self, name: str, app: str, cpu: int | None, env: dict[str, str] | None = None, port: int | None = None
    ) -> Server:
        return Server(
            name,
            app,
            port=port or free_port(),
            env={**self.base_env(), **(env or {})},
            cpu=cpu,
            pinning=self.pinning,
            tracked=self.tracked,
            log_dir=self.tmp,
            python=sys.executable,
        )

    def load(
        self,
        key: str,
        label: str,
        url: str,
        script: str | None = None,
        args_for: Callable[[int], list[str]] | None = None,
    ) -> wrk.WrkResult:
        """A warm-up (discarded) then the measured run; args_for(run) gives the script's arguments."""
        script_path = str(LUA / script) if script else None
        if self.shape.warmup:
            say(f"  {label}: warm-up {self.shape.warmup} s ...")
            wrk.run(
                self.wrk,
                url,
                self.shape,
                self.pinning,
                self.tracked,
                seconds=self.shape.warmup,
                script=script_path,
                script_args=args_for(0) if args_for else None,
            )
        say(f"  {label}: measuring {self.shape.seconds} s ...")
        servers = [s for s in self.running if s.alive()]
        other = OtherLoad([s.pid for s in servers])
        cpu_before = {s.name: pid_cpu_seconds(s.pid) for s in servers}
        result = wrk.run(
            self.wrk,
            url,
            self.shape,
            self.pinning,
            self.tracked,
            seconds=self.shape.seconds,
            script=script_path,
            script_args=args_for(1) if args_for else None,
        )
        cpu = {s.name: 1000 * (pid_cpu_seconds(s.pid) - cpu_before[s.name]) / max(1, result.requests) for s in servers}
        self.report.other_load[key] = other_pct = other.percent()
        self.report.runs[key] = {
            **result.as_dict(),
            "server_cpu_ms_per_request": {name: round(ms, 3) for name, ms in cpu.items()},
        }
        say(f"  {label}: {fmt_run(result)}")
        say(f"  {label}: server CPU per request: " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in cpu.items()))
        noisy = f" (over {BUSY_WARNING:.0f}%: this figure is suspect)" if other_pct > BUSY_WARNING else ""
        top = ", ".join(f"{name} {pct:.0f}%" for name, pct in other.top())
        say(
            f"  {label}: other processes used {other_pct:.0f}% of a CPU meanwhile{noisy}"
            + (f"; busiest: {top}" if top else "")
        )
        return result

    def interleaved(self, figures: list[tuple[str, str, str, str | None, Callable[[int], list[str]] | None]]) -> None:
        """Measures each (key, label, url, script, args_for) `--rounds` times, round after round
        (A B C, A B C, ...), and keeps under `key` each figure's median round. Noise on a shared
        machine then falls on every figure alike, and no single disturbed run decides a ratio."""
        rounds = self.args.rounds
        for r in range(1, rounds + 1):
            if rounds > 1:
                say(f"  round {r} of {rounds}")
            for key, label, url, script, args_for in figures:
                self.load(f"{key}#{r}" if rounds > 1 else key, label, url, script, args_for)
        if rounds == 1:
            return
        for key, *_ in figures:
            measured = [f"{key}#{r}" for r in range(1, rounds + 1) if f"{key}#{r}" in self.report.runs]
            if not measured:
                continue
            ordered = sorted(measured, key=lambda k: self.report.runs[k]["requests_per_s"])
            median = ordered[len(ordered) // 2]
            self.report.runs[key] = {
                **self.report.runs[median],
                "rounds_requests_per_s": [self.report.runs[k]["requests_per_s"] for k in measured],
            }
            self.report.other_load[key] = max(self.report.other_load.get(k, 0.0) for k in measured)
            say(
                f"  {key}: median of {len(measured)} rounds: {self.report.runs[key]['requests_per_s']:,.0f} "
                f"requests/s (rounds: "
                + ", ".join(f"{self.report.runs[k]['requests_per_s']:,.0f}" for k in measured)
                + ")"
            )

    # -- the figures ----------------------------------------------------------------------------------

    def preamble(self) -> None:
        from services.common.auth import mint_token
        from services.common.config import DEV_JWT_SECRET

        self.wrk = wrk.ensure_wrk()
        version = subprocess.run([self.wrk, "-v"], capture_output=True, text=True).stdout.splitlines()
        if self.pinning.enabled:
            # Seeding and bookkeeping stay off the servers' CPU.
            os.sched_setaffinity(0, {self.pinning.load_cpu})
        self.token = mint_token(DEV_JWT_SECRET, sub="bench", role="staff", branch="BR0001", ttl_seconds=3600)
        loops = [m for m in ("uvloop", "httptools") if importlib.util.find_spec(m)]
        self.report.notes.update(
            {
                "cpus": str(os.cpu_count()),
                "pinning": self.pinning.note,
                "gateway_pinning": self.gateway_pin_note(self.gateway_cpu()),
                "wrk": version[0].split(" Copyright")[0] if version else self.wrk,
                "python": platform.python_version(),
                "uvicorn_extras": ", ".join(loops) or "none (plain asyncio)",
            }
        )
        say("Benchmark: Postal Savings Customer Management Suite")
        say(
            f"  machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"{self.report.notes['wrk']}"
        )
        say(f"  pinning: {self.pinning.note}")
        say(f"  gateway pinning: {self.report.notes['gateway_pinning']}")
        say(
            f"  load: wrk -t{self.shape.threads} -c{self.shape.connections}, {self.shape.warmup} s warm-up + "
            f"{self.shape.seconds} s measured per figure, timeout {self.shape.timeout} s, 127.0.0.1 only"
        )
        say(
            "  servers: uvicorn through services.common.serve, 1 worker each "
            f"({self.report.notes['uvicorn_extras']}), --no-access-log, log level WARNING (the services' JSON "
            "access lines are INFO, so none are written)"
        )
        busy = cpu_busy()
        self.report.notes["cpu_busy_before_pct"] = busy
        say(
            "  other load before the run: "
            + (", ".join(f"CPU {c} {p:.0f}% busy" for c, p in busy.items()) or "unknown (no /proc/stat)")
        )
        if any(p > BUSY_WARNING for p in busy.values()):
            say(
                f"  WARNING: other processes are using more than {BUSY_WARNING:.0f}% of a CPU: expect low "
                "figures and noisy ratios; rerun on a quiet machine"
            )
        say()

    def gateway_cpu(self) -> int | None:
        return self.pinning.load_cpu if self.args.gateway_cpu == "load" else self.pinning.server_cpu

    def gateway_pin_note(self, cpu: int | None) -> str:
        if cpu is None:
            return "not pinned"
        if self.args.gateway_cpu == "load":
            return f"CPU {cpu}, with wrk (profile alone on CPU {self.pinning.server_cpu})"
        return (
            f"CPU {cpu}, sharing it with profile: the gateway/direct ratio charges the gateway's whole "
            "CPU cost against profile's (wrk keeps its own CPU)"
        )

    def floor_start(self) -> Server:
        say("1. Floor: bare FastAPI async JSON endpoint (bench/floor_app.py)")
        srv = self.server("floor", "bench.floor_app:create_app", self.pinning.server_cpu)
        srv.start()
        self.running.append(srv)
        say(f"  started pid {srv.pid} on {srv.url} (RSS idle {self.report.rss('floor', 'idle', srv)} MB)")
        return srv

    def migrate(self, db_url: str) -> None:
        env = {**self.base_env(), "PROFILE_DATABASE_URL": db_url}
        cmd = [sys.executable, "-m", "alembic", "-c", "services/profile/alembic.ini", "upgrade", "head"]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ServerError(f"alembic upgrade head failed:\n{(proc.stdout + proc.stderr).strip()[-2000:]}")

    def profile_start(self) -> Server:
        db_url = f"sqlite:///{self.tmp / 'profile.db'}"
        say("2. Profile: GET /v1/customers/{id} with a staff token, SQLite in a temporary directory")
        started = time.monotonic()
        self.migrate(db_url)
        say(f"  migrated {db_url} ({time.monotonic() - started:.1f} s)")
        srv = self.server(
            "profile",
            "services.profile.app:create_app",
            self.pinning.server_cpu,
            {"PROFILE_DATABASE_URL": db_url, "PROFILE_LOG_LEVEL": "WARNING"},
        )
        srv.start()
        self.running.append(srv)
        say(f"  started pid {srv.pid} on {srv.url} (RSS idle {self.report.rss('profile', 'idle', srv)} MB)")
        return srv

    def seed(self, srv: Server) -> Path:
        started = time.monotonic()
        ids = seed_customers(srv.url, self.token, self.args.customers)
        took = time.monotonic() - started
        ids_file = self.tmp / "customer_ids.txt"
        ids_file.write_text("\n".join(ids) + "\n")
        self.report.notes["seeding"] = f"{len(ids)} customers in {took:.1f} s"
        rss = self.report.rss("profile", "seeded", srv)
        say(
            f"  seeded {len(ids):,} customers through POST /v1/customers in {took:.1f} s "
            f"({len(ids) / took:,.0f}/s, 4 client threads; RSS {rss} MB)"
        )
        return ids_file

    def check_read(self, base: str, prefix: str, ids_file: Path) -> None:
        first = ids_file.read_text().split()[0]
        headers = {"Authorization": f"Bearer {self.token}"}
        resp = httpx.get(f"{base}{prefix}{first}", headers=headers, timeout=10)
        try:
            same = resp.json().get("id") == first
        except ValueError:
            same = False
        if resp.status_code != 200 or not same:
            raise ServerError(f"GET {prefix}{first} gave HTTP {resp.status_code}: {resp.text[:300]}")

    def profile_read(self, srv: Server, ids_file: Path) -> float:
        self.check_read(srv.url, "/v1/customers/", ids_file)
        result = self.load(
            "profile_read",
            "profile read",
            srv.url,
            "read.lua",
            lambda _run: [str(ids_file), self.token, "/v1/customers/"],
        )
        say(f"  RSS after the run: {self.report.rss('profile', 'after read', srv)} MB")
        return result.requests_per_s

    def gateway_importable(self) -> str | None:
        """None when gateway.app imports and has create_app; else why it is not available."""
        module, _, factory = self.args.gateway_app.partition(":")
        try:
            found = importlib.util.find_spec(module)
        except ImportError:
            found = None
        if found is None:
            return f"{module} does not exist yet"
        check = f"import {module} as m; m.{factory or 'create_app'}"
        proc = subprocess.run(
            [sys.executable, "-c", check], cwd=ROOT, env=self.base_env(), capture_output=True, text=True
        )
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            return f"{module} does not import: {last}"
        return None

    def gateway_start(self, profile: Server, ids_file: Path) -> Server | None:
        say("3. Through the gateway: GET /api/v1/customers/{id}")
        if why := self.gateway_importable():
            self.report.notes["gateway"] = f"not available ({why})"
            say(f"  gateway: not available ({why})")
            return None
        port = free_port()
        # One wrk caller would meet the per-caller rate limit; the bench measures the proxy, not the limiter.
        env = {
            "GATEWAY_PROFILE_URL": profile.url,
            "GATEWAY_PORT": str(port),
            "GATEWAY_LOG_LEVEL": "WARNING",
            "GATEWAY_RATE_LIMIT_READS": "100000000/minute",
            "GATEWAY_RATE_LIMIT_WRITES": "100000000/minute",
        }
        srv = self.server("gateway", self.args.gateway_app, self.gateway_cpu(), env, port=port)
        try:
            srv.start()
            self.running.append(srv)
            rss = self.report.rss("gateway", "idle", srv)
            say(f"  started pid {srv.pid} on {srv.url} -> profile {profile.url} (RSS idle {rss} MB)")
            self.check_read(srv.url, "/api/v1/customers/", ids_file)
            self.report.notes["gateway"] = "measured"
            return srv
        except FAILURES as err:
            self.report.notes["gateway"] = "failed"
            self.report.fail("gateway", err)
            srv.stop()
            return None

    def registrations(self, srv: Server) -> None:
        say("4. Registrations: POST /v1/customers, a unique valid resident ID per request (bench/lua/register.lua)")
        try:
            result = self.load(
                "registrations", "registrations", srv.url, "register.lua", lambda run: [self.token, str(run)]
            )
            statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(result.statuses.items()))
            say(f"  statuses: {statuses or 'none reported'}")
            say(f"  RSS after the run: {self.report.rss('profile', 'after', srv)} MB")
        except FAILURES as err:
            self.report.fail("registrations", err)
        finally:
            say()

    def read_figures(self) -> None:
        """The floor, profile's read and the same read through the gateway, in interleaved rounds;
        then registrations."""
        floor = profile = gateway = None
        try:
            floor = self.floor_start()
            say()
            profile = self.profile_start()
            ids_file = self.seed(profile)
            self.check_read(profile.url, "/v1/customers/", ids_file)
            say()
            gateway = self.gateway_start(profile, ids_file)
            say()
            read = "read.lua"
            figures = [
                ("floor", "floor", floor.url + "/v1/floor", None, None),
                (
                    "profile_read",
                    "profile read",
                    profile.url,
                    read,
                    lambda _run: [str(ids_file), self.token, "/v1/customers/"],
                ),
            ]
            if gateway:
                figures.append(
                    (
                        "gateway_read",
                        "gateway read",
                        gateway.url,
                        read,
                        lambda _run: [str(ids_file), self.token, "/api/v1/customers/"],
                    )
                )
            say(f"Reads, {self.args.rounds} interleaved round(s): " + ", ".join(f[1] for f in figures))
            self.interleaved(figures)
            say(
                f"  RSS after the runs: floor {self.report.rss('floor', 'after', floor)} MB, profile "
                f"{self.report.rss('profile', 'after read', profile)} MB"
                + (f", gateway {self.report.rss('gateway', 'after', gateway)} MB" if gateway else "")
            )
            say()
        except FAILURES as err:
            self.report.fail("reads", err)
        finally:
            for srv in (floor, gateway):
                if srv:
                    self.running = [s for s in self.running if s is not srv]
                    srv.stop()
        if profile:
            if profile.alive():
                self.registrations(profile)
            profile.stop()


def _raise_interrupt(_signum, _frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.chdir(ROOT)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    started_at, started = datetime.now(UTC), time.monotonic()
    tracked, report = Tracked(), Report()
    interrupted = False
    with tempfile.TemporaryDirectory(prefix="psbench-") as tmp:
        try:
            bench = Bench(args, tracked, report, Path(tmp))
            bench.preamble()
            bench.read_figures()
        except KeyboardInterrupt:
            interrupted = True
            say("\ninterrupted: stopping every server started")
        finally:
            tracked.stop_all()
    elapsed = time.monotonic() - started
    rows = summary_rows(report)
    exit_code = 130 if interrupted else (1 if report.errors else 0)
    print_table(rows)
    say(
        f"\n  run took {elapsed:.0f} s; {args.connections} connections, {args.threads} wrk threads, "
        f"{args.seconds} s per figure; machines are noisy, compare ratios within one run"
    )
    if report.errors:
        say("  failures: " + "; ".join(e.splitlines()[0] for e in report.errors))
    try:
        write_json(args.json, args, report, rows, started_at, elapsed, exit_code)
        say(f"  JSON: {args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}")
    except OSError as err:
        say(f"  could not write {args.json}: {err}")
        exit_code = exit_code or 1
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
