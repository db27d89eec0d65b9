"""The processes a bench run starts (servers and wrk): CPU pinning, free ports, readiness, resident
memory, and stopping every one of them at the end, whatever happened."""

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class Pinning:
    """Servers on one CPU, the load generator on another, so wrk never takes the server's CPU."""

    server_cpu: int | None
    load_cpu: int | None
    note: str

    @classmethod
    def detect(cls) -> "Pinning":
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if len(cpus) < 2:
            return cls(None, None, f"none: {len(cpus) or os.cpu_count()} CPU available to this process")
        if not shutil.which("taskset"):
            return cls(None, None, "none: taskset not found (util-linux)")
        server, load = cpus[0], cpus[1]
        extra = f" (of {len(cpus)} CPUs, the rest unused)" if len(cpus) > 2 else ""
        return cls(server, load, f"servers on CPU {server}, wrk and this harness on CPU {load}{extra}")

    @property
    def enabled(self) -> bool:
        return self.server_cpu is not None

    def prefix(self, cpu: int | None) -> list[str]:
        return ["taskset", "-c", str(cpu)] if cpu is not None else []


class Tracked:
    """Every child process started; stop_all() ends those still running (TERM, then KILL)."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen] = []

    def popen(self, cmd: list[str], **kwargs) -> subprocess.Popen:
        # Own session: a Ctrl-C reaches only the harness, which then stops its children in order.
        proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
        self._procs.append(proc)
        return proc

    def forget(self, proc: subprocess.Popen) -> None:
        if proc in self._procs:
            self._procs.remove(proc)

    def stop(self, proc: subprocess.Popen, grace: float = 10.0) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.forget(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self._procs)):
            try:
                self.stop(proc)
            except Exception as err:  # noqa: BLE001 - keep stopping the others
                print(f"could not stop pid {proc.pid}: {err}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float | None:
    """VmRSS from /proc/<pid>/status in MB (MiB, kB / 1024); None where /proc is absent."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


class ServerError(RuntimeError):
    pass


class Server:
    """One uvicorn process (1 worker), started as the suite starts it (services.common.serve), pinned,
    logging to a file, ready once /health/live answers."""

    def __init__(
        self,
        name: str,
        app: str,
        *,
        port: int,
        env: dict[str, str],
        cpu: int | None,
        pinning: Pinning,
        tracked: Tracked,
        log_dir: Path,
        python: str,
    ):
        self.name, self.port, self.cpu = name, port, cpu
        self.url = f"http://127.0.0.1:{port}"
        self.log = log_dir / f"{name}.log"
        self.cmd = [
            *pinning.prefix(cpu),
            python,
            "-m",
            "services.common.serve",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
            "--timeout-graceful-shutdown",
            "3",
        ]
        self._env, self._tracked = env, tracked
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0, ready_path: str = "/health/live") -> "Server":
        with self.log.open("wb") as log:
            self.proc = self._tracked.popen(
                self.cmd, env=self._env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise ServerError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
                try:
                    if client.get(self.url + ready_path).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise ServerError(f"{self.name} did not answer {ready_path} within {timeout:.0f} s:\n{self.log_tail()}")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def rss_mb(self) -> float | None:
        return rss_mb(self.proc.pid) if self.proc and self.proc.poll() is None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            self._tracked.stop(self.proc)

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _cpu_times() -> dict[int, tuple[int, int]]:
    """Per CPU: (busy, total) jiffies from /proc/stat. Busy is user, nice, system and steal (a
    hypervisor serving other machines); interrupt time is left out, since our own loopback traffic
    is mostly handled there and no process is charged for it."""
    times = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name != "cpu":
            user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in fields[:8])
            busy = user + nice + system + steal
            times[int(name[3:])] = (busy, busy + idle + iowait + irq + softirq)
    return times


def cpu_busy(seconds: float = 1.0) -> dict[int, float]:
    """Each CPU's busy share (%) over `seconds` of doing nothing here: other load on the machine."""
    try:
        before = _cpu_times()
        time.sleep(seconds)
        after = _cpu_times()
    except OSError:
        return {}
    return {
        cpu: round(100 * (after[cpu][0] - b[0]) / max(1, after[cpu][1] - b[1]), 1)
        for cpu, b in before.items()
        if cpu in after
    }


def pid_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far; 0 where /proc is absent."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class OtherLoad:
    """CPU the machine spent on processes other than ours (the servers given, wrk once reaped, this
    harness) while a figure was measured, in % of one CPU; 0 where /proc is absent. Rounding of
    per-process times makes a few % normal on a quiet machine. top() names the busiest others that
    lived through the whole window (short-lived ones count in percent() only)."""

    def __init__(self, pids: list[int]):
        self.pids = pids
        self.procs_start = _all_process_seconds()
        self.start = self._sample()

    def _sample(self) -> tuple[float, float, float]:
        try:
            machine = sum(busy for busy, _ in _cpu_times().values()) / os.sysconf("SC_CLK_TCK")
        except OSError:
            machine = 0.0
        t = os.times()
        ours = sum(pid_cpu_seconds(p) for p in self.pids) + t.user + t.system + t.children_user + t.children_system
        return time.monotonic(), machine, ours

    def percent(self) -> float:
        (t0, m0, o0), (t1, m1, o1) = self.start, self._sample()
        self.elapsed = t1 - t0
        if m1 == 0.0 or t1 <= t0:
            return 0.0
        return max(0.0, round(100 * ((m1 - m0) - (o1 - o0)) / (t1 - t0), 1))

    def top(self, n: int = 3, at_least: float = 2.0) -> list[tuple[str, float]]:
        """After percent(): [(name, % of a CPU)] of the busiest other processes."""
        end = _all_process_seconds()
        ours = {*self.pids, os.getpid()}
        used = [
            (name, 100 * (sec - self.procs_start[pid][1]) / max(self.elapsed, 1e-9))
            for pid, (name, sec) in end.items()
            if pid in self.procs_start and pid not in ours
        ]
        return [(name, round(pct, 1)) for name, pct in sorted(used, key=lambda x: -x[1])[:n] if pct >= at_least]


def _all_process_seconds() -> dict[int, tuple[str, float]]:
    """pid -> (command name, CPU seconds so far) for every process readable in /proc."""
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        head, _, tail = raw.rpartition(")")
        fields = tail.split()
        found[int(entry.name)] = (head.partition("(")[2], (int(fields[11]) + int(fields[12])) / hz)
    return found
