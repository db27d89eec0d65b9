"""`make run`'s supervisor (scripts/supervise.py) with real processes: a process killed with SIGKILL is
started again and the console names it and the signal; one that keeps failing is restarted with a
growing delay; SIGTERM stops every process and the supervisor exits 0. Deadlines are generous: they
bound a hung run, they do not measure speed."""

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).parents[2]
DEADLINE = 30.0


class Console:
    def __init__(self, proc: subprocess.Popen):
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"never saw {text!r}; saw:\n" + "\n".join(self.seen))


def _pid(line: str) -> int:
    return int(line.rsplit("(pid ", 1)[1].rstrip(")"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_process_comes_back_a_failing_one_backs_off_and_sigterm_stops_all(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        f"sleeper: {sys.executable} -c 'import time; print(\"up\", flush=True); time.sleep(600)'\n"
        f"crasher: {sys.executable} -c 'import sys; print(\"failing\", flush=True); sys.exit(3)'\n"
    )
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "supervise.py"), str(procfile)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    console = Console(proc)
    try:
        first = _pid(console.wait_for("sleeper started"))
        console.wait_for("sleeper       | up")
        os.kill(first, signal.SIGKILL)
        console.wait_for("sleeper exited with signal SIGKILL")
        second = _pid(console.wait_for("sleeper started"))
        assert second != first and _alive(second)

        console.wait_for("crasher exited with code 3 after")
        while "(restart 3)" not in " ".join(line for line in console.seen if "crasher exited" in line):
            console.wait_for("crasher exited with code 3")
        delays = [line.rsplit("restarting in ", 1)[1] for line in console.seen if "crasher exited" in line]
        assert delays[:3] == ["1 s (restart 1)", "2 s (restart 2)", "4 s (restart 3)"]  # the delay doubles

        proc.send_signal(signal.SIGTERM)
        console.wait_for("every process stopped")
        assert proc.wait(DEADLINE) == 0
        assert not _alive(second)
    finally:
        if proc.poll() is None:
            proc.kill()
