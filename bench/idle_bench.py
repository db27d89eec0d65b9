"""`python -m bench.idle_bench`: what an idle suite costs. Starts the whole suite exactly as `make run`
does (scripts/migrate.sh, then scripts/run.sh: five processes under scripts/supervise.py, SQLite, no demo data) on
a free port base, lets it settle, then measures for a minute: the log lines it writes and each process's CPU use (from
/proc/<pid>/stat). Aims: under 10 log lines a minute for the suite, under 1 % of a CPU per process.
A report, not a test."""

import argparse
import os
import sys
import time
from pathlib import Path

from bench.suite import PROCESSES, running_suite

AIM_LINES_PER_MIN, AIM_CPU_SHARE = 10, 0.01
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.idle_bench", description=__doc__)
    p.add_argument("--settle", type=float, default=15.0, help="seconds before measuring")
    p.add_argument("--seconds", type=float, default=60.0, help="seconds measured")
    args = p.parse_args(argv)
    print(f"idle suite benchmark, {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    with running_suite("idle-bench-") as suite:
        if suite is None:
            return 0
        time.sleep(args.settle)
        pids = suite.pids()
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        lines_before = len(suite.log.read_bytes().splitlines())
        time.sleep(args.seconds)
        after = {name: cpu_seconds(pid) for name, pid in pids.items()}
        lines = len(suite.log.read_bytes().splitlines()) - lines_before
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
