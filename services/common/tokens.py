"""CLI that mints a development token: python -m services.common.tokens --role staff [--sub ..] [--branch ..]."""

import argparse
import os
import uuid

from services.common.auth import ROLES, mint_token
from services.common.config import DEV_JWT_SECRET


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--role", choices=ROLES, default="staff")
    p.add_argument("--sub", default="", help="subject: a customer's id for role=customer, a staff id otherwise")
    p.add_argument("--branch", default="", help="branch code for staff roles")
    p.add_argument("--ttl", type=int, default=8 * 3600, help="seconds until expiry")
    args = p.parse_args(argv)
    secret = os.environ.get("SUITE_JWT_SECRET", DEV_JWT_SECRET)
    sub = args.sub or (str(uuid.uuid4()) if args.role == "customer" else f"{args.role}-dev")
    branch = args.branch or ("BR0001" if args.role in ("staff", "supervisor") else None)
    print(f"# {args.role} token for sub={sub}" + (f" branch={branch}" if branch else "") + f", valid {args.ttl}s")
    print(mint_token(secret, sub=sub, role=args.role, branch=branch, ttl_seconds=args.ttl))


if __name__ == "__main__":
    main()
