"""The whole suite started exactly as `make run` starts it (scripts/migrate.sh, then scripts/run.sh: five
processes under scripts/supervise.py, SQLite files in a temporary folder) on a free port base, for the
benchmarks that measure the suite as a whole (bench.idle_bench, bench.memory_bench)."""

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = ("gateway", "profile", "segmentation", "feedback", "loyalty")  # in port order from the base


@dataclass
class Suite:
    base: int
    data: Path
    log: Path

    def url(self, process: str) -> str:
        return f"http://127.0.0.1:{self.base + PROCESSES.index(process)}"

    def pids(self) -> dict[str, int]:
        return {name: pid_on(self.base + i) for i, name in enumerate(PROCESSES)}


def free_base() -> int:
    for base in range(21000, 60000, 10):
        try:
            for port in range(base, base + len(PROCESSES)):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no five free ports")


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


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A /proc/<pid>/status memory figure (VmRSS now, VmHWM the peak) in MB (MiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


@contextmanager
def running_suite(prefix: str, **env: str) -> Iterator[Suite | None]:
    """The suite, healthy, or None (with the log's place printed) if it did not become healthy in 90 s;
    stopped with Ctrl-C's signal at the end, as a person would stop `make run`."""
    base = free_base()
    data = Path(tempfile.mkdtemp(prefix=prefix))
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.endswith("_PORT")},
        "SUITE_PORT_BASE": str(base),
        "SUITE_DEMO": "0",
        **{f"{s.upper()}_DATABASE_URL": f"sqlite:///{data / s}.db" for s in PROCESSES if s != "gateway"},
        **env,
    }
    log = data / "suite.log"
    subprocess.run(["bash", "scripts/migrate.sh"], cwd=ROOT, env=full_env, check=True, capture_output=True)
    with log.open("wb") as out:
        run = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
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
            yield None
            return
        yield Suite(base, data, log)
    finally:
        os.killpg(run.pid, signal.SIGINT)
        try:
            run.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
