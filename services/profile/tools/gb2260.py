"""Writes services/profile/data/gb2260.csv, the GB/T 2260 administrative division codes that the
identity rules check (a resident ID's area code, a credit code's registration authority), from the
table python-stdnum ships (stdnum/cn/loc.dat): every code published since 1980 down to county level,
each name with the years it was in force, abolished codes included, because a number keeps the code
it was given. python-stdnum is a development dependency pinned in pyproject.toml; a test holds the
shipped file equal to what this tool writes from it.

    python -m services.profile.tools.gb2260           # rewrite the file
    python -m services.profile.tools.gb2260 --check   # exit 1 when the file differs
"""

import argparse
import csv
import importlib.resources
import io
import re
import sys
from pathlib import Path

DATA = Path(__file__).parents[1] / "data" / "gb2260.csv"
_LINE = re.compile(r'^( *)(\d+) (\w+)="([^"]*)"$')
_PERIOD = re.compile(r"^\[(\d{4})?-(\d{4})?\](.+)$")


def _source_text() -> str:
    return importlib.resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")


def rows(source: str) -> list[tuple[str, str, str, str]]:
    """(code, name, valid_from, valid_to) for every name a code has had; years are empty when open."""
    out: list[tuple[str, str, str, str]] = []
    province = ""
    for line in source.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            raise ValueError(f"unexpected line in loc.dat: {line!r}")
        indent, prefix, key, value = m.groups()
        if not indent:
            province = prefix
            continue
        code = province + prefix
        if len(code) != 6 or key != "county":
            raise ValueError(f"unexpected entry in loc.dat: {line!r}")
        for name in re.split(r",(?=\[)", value):
            period = _PERIOD.match(name)
            start, end, name = period.groups() if period else (None, None, name)
            out.append((code, name, start or "", end or ""))
    return out


def render(source: str) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["code", "name", "valid_from", "valid_to"])
    writer.writerows(rows(source))
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="compare only; exit 1 when the file differs")
    args = p.parse_args(argv)
    text = render(_source_text())
    if args.check:
        same = DATA.exists() and DATA.read_text(encoding="utf-8") == text
        print(f"{DATA}: {'up to date' if same else 'differs from python-stdnum; run without --check'}")
        return 0 if same else 1
    DATA.parent.mkdir(exist_ok=True)
    DATA.write_text(text, encoding="utf-8")
    print(f"{DATA}: {text.count(chr(10)) - 1} names of {len({r[0] for r in rows(_source_text())})} codes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
