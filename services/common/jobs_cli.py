"""The command behind each service's `python -m services.<name>.tools.jobs`: `list` shows every job with
its schedule, last success and deadline; `run <job>` runs it if its current window is unclaimed
(a Kubernetes CronJob calls this), `run <job> --force` runs it at once. Exit 0 when it ran and
succeeded or the window was already taken, 1 when it failed."""

import argparse
from collections.abc import Callable, Sequence

from services.common.jobs import JobRunner


def main(argv: Sequence[str] | None, build: Callable[[], JobRunner], prog: str) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every job, its schedule, last success and deadline")
    run = sub.add_parser("run", help="run a job for its current window")
    run.add_argument("job")
    run.add_argument("--force", action="store_true", help="run now even if the current window was run")
    args = parser.parse_args(argv)
    runner = build()
    try:
        if args.command == "list":
            schedules = {job.name: job.schedule.spec for job in runner.jobs}
            for st in runner.states():
                last = st.succeeded_at.isoformat() if st.succeeded_at else "never"
                print(f"{st.name}\t{schedules[st.name]}\tlast success {last}\tdue by {st.deadline.isoformat()}")
            return 0
        if args.job not in {job.name for job in runner.jobs}:
            parser.error(f"no job {args.job!r}; choose from {', '.join(job.name for job in runner.jobs)}")
        before = {st.name: st.failures for st in runner.states()}[args.job]
        ran = runner.run_now(args.job, force=args.force)
        after = {st.name: st.failures for st in runner.states()}[args.job]
        print(f"{args.job}: " + ("done" if ran else "failed" if after > before else "window already taken"))
        return 1 if after > before else 0
    finally:
        runner.db.dispose()
