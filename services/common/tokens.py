"""CLI that mints a development token: python -m services.common.tokens --role staff [--sub ..] [--branch ..]
[--scope "events:read customers:read"] [--ttl 600]. It signs with SUITE_JWT_SECRET (else the development
secret) and binds the token to SUITE_JWT_AUDIENCE and SUITE_JWT_ISSUER (else the defaults)."""

import argparse
import os
import uuid

from services.common.auth import ROLES, SCOPES, mint_token
from services.common.config import DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER, DEV_JWT_SECRET


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--role", choices=ROLES, default="staff")
    p.add_argument("--sub", default="", help="subject: a customer's id for role=customer, a staff id otherwise")
    p.add_argument(
        "--branch",
        default="",
        help="branch code for staff and supervisors (default CBJ01, the demo's Beijing city branch)",
    )
    p.add_argument(
        "--scope", default="", help=f"system tokens: space-separated, of {' '.join(SCOPES)} (default: every one)"
    )
    p.add_argument("--ttl", type=int, default=8 * 3600, help="seconds until expiry")
    args = p.parse_args(argv)
    scopes = args.scope.split() or (list(SCOPES) if args.role == "system" else [])
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        p.error(f"unknown scopes {' '.join(unknown)} (known: {' '.join(SCOPES)})")
    if scopes and args.role != "system":
        p.error("only system tokens carry scopes")
    secret = os.environ.get("SUITE_JWT_SECRET", DEV_JWT_SECRET)
    sub = args.sub or (str(uuid.uuid4()) if args.role == "customer" else f"{args.role}-dev")
    # the demo's Beijing city branch (services/profile/tools/demo.py): its three outlets' customers
    branch = args.branch or ("CBJ01" if args.role in ("staff", "supervisor") else None)
    print(
        f"# {args.role} token for sub={sub}"
        + (f" branch={branch}" if branch else "")
        + (f" scope={' '.join(scopes)}" if scopes else "")
        + f", valid {args.ttl}s"
    )
    print(
        mint_token(
            secret,
            sub=sub,
            role=args.role,
            branch=branch,
            scope=scopes,
            ttl_seconds=args.ttl,
            audience=os.environ.get("SUITE_JWT_AUDIENCE") or DEFAULT_JWT_AUDIENCE,
            issuer=os.environ.get("SUITE_JWT_ISSUER") or DEFAULT_JWT_ISSUER,
        )
    )


if __name__ == "__main__":
    main()
