"""`python -m bench.idle_bench`: what an idle suite costs. Starts the whole suite exactly as `make run`
does (scripts/migrate.sh, then scripts/run.sh: five processes under scripts/supervise.py, SQLite, no demo data) on
a free port base, lets it settle, then measures for a minute: the log lines it writes and each process's CPU use (from
/proc/<pid>/stat). Aims: under 10 log lines a minute for the suite, under 1 % of a CPU per process.
A report, not a test."""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = ("gateway", "profile", "segmentation", "feedback", "loyalty")
AIM_LINES_PER_MIN, AIM_CPU_SHARE = 10, 0.01
TICKS = os.sysconf("SC_CLK_TCK")


def free_base() -> int:
    for base in range(21000, 60000, 10):
        try:
            for port in range(base, base + 5):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no five free ports")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def pid_on(port: int) -> int:
    """The process listening on a loopback port (from /proc/net/tcp and the fds)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[1].endswith(f":{port:04X}") and parts[3] == "0A":
            inode = parts[9]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return int(pid)
        except OSError:
            continue
    raise RuntimeError(f"nothing listens on {port}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.idle_bench", description=__doc__)
    p.add_argument("--settle", type=float, default=15.0, help="seconds before measuring")
    p.add_argument("--seconds", type=float, default=60.0, help="seconds measured")
    args = p.parse_args(argv)
    base = free_base()
    data = Path(tempfile.mkdtemp(prefix="idle-bench-"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.endswith("_PORT")},
        "SUITE_PORT_BASE": str(base),
        "SUITE_DEMO": "0",
        **{f"{s.upper()}_DATABASE_URL": f"sqlite:///{data / s}.db" for s in PROCESSES if s != "gateway"},
    }
    log = data / "suite.log"
    subprocess.run(["bash", "scripts/migrate.sh"], cwd=ROOT, env=env, check=True, capture_output=True)
    print(f"idle suite benchmark, {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    with log.open("wb") as out:
        run = subprocess.Popen(
            ["bash", "scripts/run.sh"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{base}/health", timeout=2).json().get("status") == "ok":
                    break
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.5)
        else:
            print(f"  the suite did not become healthy; log: {log}")
            return 0
        time.sleep(args.settle)
        pids = {name: pid_on(base + i) for i, name in enumerate(PROCESSES)}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        lines_before = len(log.read_bytes().splitlines())
        time.sleep(args.seconds)
        after = {name: cpu_seconds(pid) for name, pid in pids.items()}
        lines = len(log.read_bytes().splitlines()) - lines_before
        per_min = lines * 60 / args.seconds
        print(
            f"  log lines written while idle: {per_min:.1f} a minute for the whole suite "
            f"(aim under {AIM_LINES_PER_MIN}: {'met' if per_min < AIM_LINES_PER_MIN else 'missed'})"
        )
        for name in PROCESSES:
            share = (after[name] - before[name]) / args.seconds
            print(
                f"  CPU while idle, {name}: {share * 100:.2f} % of one CPU "
                f"(aim under {AIM_CPU_SHARE * 100:.0f} %: {'met' if share < AIM_CPU_SHARE else 'missed'})"
            )
    finally:
        os.killpg(run.pid, signal.SIGINT)
        try:
            run.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
