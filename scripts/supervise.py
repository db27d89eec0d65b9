"""Runs the Procfile's processes and keeps them running: a process that dies is restarted with backoff
(1 s, doubling to 30 s; back to 1 s once it has stayed up for a minute), and the console says which one
died, how (its exit code or signal) and when it starts again. Ctrl-C or SIGTERM stops every process
(SIGTERM, then SIGKILL after 10 s) and exits. Each line a process writes is shown as
`HH:MM:SS name | line`; the supervisor's own lines are `HH:MM:SS system | ...`.

    python scripts/supervise.py Procfile [name ...]
"""

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

FIRST_DELAY, MAX_DELAY, STABLE_SECONDS, STOP_SECONDS = 1.0, 30.0, 60.0, 10.0
_print_lock = threading.Lock()


def say(name: str, line: str) -> None:
    with _print_lock:
        sys.stdout.write(f"{time.strftime('%H:%M:%S')} {name:<13} | {line}\n")
        sys.stdout.flush()


def read_procfile(path: str) -> dict[str, str]:
    entries = {}
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        if match := re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", raw.strip()):
            entries[match.group(1)] = match.group(2)
    return entries


def _die_with_the_supervisor() -> None:
    """In the child before exec (Linux): SIGTERM when the supervisor dies, even by SIGKILL."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def how_it_ended(code: int) -> str:
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"code {code}"


@dataclass
class Child:
    name: str
    command: str
    proc: subprocess.Popen | None = None
    started: float = 0.0
    delay: float = FIRST_DELAY
    restart_at: float | None = 0.0  # when to (re)start; None while running
    restarts: int = 0

    def start(self) -> None:
        # its own session: a terminal's Ctrl-C reaches the supervisor, which stops everyone in order
        self.proc = subprocess.Popen(  # noqa: S603 - the Procfile's own commands
            ["/bin/bash", "-c", f"exec {self.command}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_the_supervisor if sys.platform == "linux" else None,  # noqa: PLW1509
        )
        self.started, self.restart_at = time.monotonic(), None
        say("system", f"{self.name} started (pid {self.proc.pid})")
        reader = threading.Thread(target=self._relay, args=(self.proc,), daemon=True)
        reader.start()

    def _relay(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            say(self.name, raw.decode("utf-8", "replace").rstrip("\n"))

    def check(self, now: float) -> None:
        """Notices an exit and schedules the restart; starts the process when its time has come."""
        if self.proc is not None and self.restart_at is None and (code := self.proc.poll()) is not None:
            if now - self.started >= STABLE_SECONDS:
                self.delay = FIRST_DELAY
            self.restarts += 1
            say(
                "system",
                f"{self.name} exited with {how_it_ended(code)} after {now - self.started:.1f} s; "
                f"restarting in {self.delay:g} s (restart {self.restarts})",
            )
            self.restart_at = now + self.delay
            self.delay = min(self.delay * 2, MAX_DELAY)
        if self.restart_at is not None and now >= self.restart_at:
            self.start()

    def stop(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)


def main(argv: list[str]) -> int:
    entries = read_procfile(argv[0])
    wanted = argv[1:] or list(entries)
    unknown = [n for n in wanted if n not in entries]
    if unknown:
        say("system", f"not in {argv[0]}: {', '.join(unknown)}")
        return 2
    children = [Child(n, entries[n]) for n in wanted]
    stopping = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: object) -> None:
        # no printing here: the main thread may be inside say(), holding its lock
        received.append(signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stopping.is_set():
        now = time.monotonic()
        for child in children:
            child.check(now)
        stopping.wait(0.2)
    say("system", f"{received[0]} received: stopping every process")
    for child in children:
        child.stop(signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for child in children:
        while child.proc is not None and child.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if child.proc is not None and child.proc.poll() is None:
            say("system", f"{child.name} did not stop within {STOP_SECONDS:g} s: killed")
            child.stop(signal.SIGKILL)
            child.proc.wait()
    say("system", "every process stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
