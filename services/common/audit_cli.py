"""The command behind each service's `python -m services.<name>.tools.audit`: `verify` walks the
service's audit chain and its mirrored tables and exits 1 naming the first broken record;
`--expect SEQ:DIGEST` (repeatable) also checks heads recorded earlier. `head` prints the newest
record's position and digest, the evidence to keep outside the database."""

import argparse
from collections.abc import Iterable, Sequence

from sqlalchemy import Table, exc

from services.common.audit_chain import Mirror, head, verify
from services.common.db import Database


def _expected(values: Sequence[str]) -> dict[int, str]:
    expected: dict[int, str] = {}
    for value in values:
        seq, _, digest = value.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise ValueError(f"--expect {value!r}: write SEQ:DIGEST (a position and a 64-digit digest)")
        expected[int(seq)] = digest.lower()
    return expected


def main(argv: Sequence[str] | None, service: str, db: Database, chain: Table, mirrors: Iterable[Mirror]) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m services.{service}.tools.audit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("verify", help="check the chain and the tables it mirrors; exit 1 on a break")
    check.add_argument("--expect", action="append", default=[], metavar="SEQ:DIGEST")
    sub.add_parser("head", help="print the newest record's position and digest")
    args = parser.parse_args(argv)
    try:
        expected = _expected(getattr(args, "expect", []))
    except ValueError as err:
        parser.error(str(err))
    try:
        if args.command == "head":
            seq, digest = head(db, chain)
            print(f"{service}\t{seq}\t{digest}")
            return 0
        try:
            with db.read() as s:
                verdict = verify(s, chain, mirrors, expected)
        except exc.SQLAlchemyError as err:
            print(f"{service}: cannot read the audit chain ({type(err).__name__}; is the database migrated?)")
            return 2
        if verdict.intact:
            print(f"{service}: intact, {verdict.records} records, head {verdict.head_seq} {verdict.head_digest}")
            return 0
        print(f"{service}: BROKEN: {verdict.problem}")
        return 1
    finally:
        db.dispose()
