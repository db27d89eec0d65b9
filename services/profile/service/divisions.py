"""The GB/T 2260 administrative division codes that the identity rules check (a resident ID's area
code, a credit code's registration authority), read from the table python-stdnum ships
(`stdnum/cn/loc.dat`, a pinned dependency): every code published since 1980 down to county level,
each name with the years it was in force, abolished codes included, because a number keeps the code
it was given. Parsed once, on first use (about 0.1 s); nothing is generated into the repository."""

import importlib.resources
import re
from functools import cache

_LINE = re.compile(r'^( *)(\d+) (\w+)="([^"]*)"$')
_PERIOD = re.compile(r"^\[(\d{4})?-(\d{4})?\](.+)$")


def source_text() -> str:
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


@cache
def division_rows() -> tuple[tuple[str, str, str, str], ...]:
    return tuple(rows(source_text()))
