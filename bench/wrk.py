"""Running wrk as a separate, pinned process and reading its report."""

import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field

from bench.procs import Pinning, Tracked

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.M)
_PCT = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
_NON2XX = re.compile(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", re.M)
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_STATUS = re.compile(r"^BENCH_STATUS(.*)$", re.M)


class WrkError(RuntimeError):
    pass


@dataclass
class WrkResult:
    requests_per_s: float
    requests: int
    seconds: float
    latency_ms: dict[str, float]
    non_2xx_3xx: int
    socket_errors: dict[str, int]
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.non_2xx_3xx + sum(self.socket_errors.values())

    def as_dict(self) -> dict:
        return asdict(self)


def parse(output: str) -> WrkResult:
    """wrk 4.x text output (with --latency) to numbers; raises WrkError when the report is absent."""
    rps = _RPS.search(output)
    total = _TOTAL.search(output)
    if not rps or not total:
        raise WrkError(f"no Requests/sec in wrk's output:\n{output.strip()[-2000:]}")
    latency = {f"p{p}": round(float(v) * _UNIT_MS[u], 3) for p, v, u in _PCT.findall(output)}
    non2xx = _NON2XX.search(output)
    sock = _SOCKET.search(output)
    socket_errors = (
        dict(zip(("connect", "read", "write", "timeout"), (int(x) for x in sock.groups()), strict=True))
        if sock
        else {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    )
    statuses: dict[int, int] = {}
    if m := _STATUS.search(output):
        for part in m.group(1).split():
            code, _, count = part.partition("=")
            statuses[int(code)] = int(count)
    return WrkResult(
        requests_per_s=float(rps.group(1)),
        requests=int(total.group(1)),
        seconds=round(float(total.group(2)) * _UNIT_MS[total.group(3)] / 1000, 3),
        latency_ms=latency,
        non_2xx_3xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=socket_errors,
        statuses=statuses,
    )


def installed(command: str, package: str, fallback: str | None = None) -> str | None:
    """The command's path; when missing and running as root, installs the Debian package first."""
    path = shutil.which(command) or (fallback if fallback and os.path.exists(fallback) else None)
    if path or os.geteuid() != 0 or not shutil.which("apt-get"):
        return path
    print(f"{command} is missing: installing the Debian package (apt-get install -y {package})", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", package], env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=False)
        subprocess.run(["apt-get", "install", "-y", package], env=env, check=False)
    return shutil.which(command) or (fallback if fallback and os.path.exists(fallback) else None)


def ensure_wrk() -> str:
    """The wrk binary; installs the Debian package when running as root, else exits with advice."""
    path = installed("wrk", "wrk")
    if path:
        return path
    print(
        "wrk is not installed. Install it with `sudo apt-get install -y wrk` (Debian/Ubuntu) or\n"
        "`brew install wrk` (macOS), then run `make bench` again.",
        file=sys.stderr,
    )
    raise SystemExit(2)


@dataclass(frozen=True)
class LoadShape:
    seconds: int
    warmup: int
    connections: int
    threads: int
    timeout: int


def run(
    wrk: str,
    url: str,
    shape: LoadShape,
    pinning: Pinning,
    tracked: Tracked,
    *,
    seconds: int,
    script: str | None = None,
    script_args: list[str] | None = None,
) -> WrkResult:
    cmd = [
        *pinning.prefix(pinning.load_cpu),
        wrk,
        "-t",
        str(shape.threads),
        "-c",
        str(shape.connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        f"{shape.timeout}s",
        "--latency",
    ]
    if script:
        cmd += ["-s", script]
    cmd.append(url)
    if script_args:
        cmd += ["--", *script_args]
    proc = tracked.popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=seconds + shape.timeout + 30)
    except subprocess.TimeoutExpired:
        tracked.stop(proc)
        raise WrkError(f"wrk did not finish a {seconds} s run") from None
    tracked.forget(proc)
    if proc.returncode != 0:
        raise WrkError(f"wrk exited with {proc.returncode}:\n{out.strip()[-2000:]}")
    return parse(out)
