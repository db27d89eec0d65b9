"""The GB/T 2260 division codes shipped in services/profile/data/gb2260.csv: equal to what the tool
writes from python-stdnum's table, at every level, abolished codes kept."""

import csv
import re

from services.profile.tools import gb2260

DIVISIONS_CSV = gb2260.DATA


def _rows() -> list[dict[str, str]]:
    with DIVISIONS_CSV.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_shipped_file_is_what_the_tool_writes_from_python_stdnum():
    assert DIVISIONS_CSV.read_text(encoding="utf-8") == gb2260.render(gb2260._source_text())
    assert gb2260.main(["--check"]) == 0


def test_codes_span_province_prefecture_and_county_level_since_1980():
    names = {(r["code"], r["name"]) for r in _rows()}
    assert {("110000", "北京市"), ("440300", "深圳市"), ("110105", "朝阳区")} <= names
    abolished = {r["code"]: r for r in _rows() if r["valid_to"]}
    assert abolished["110103"]["name"] == "崇文区" and abolished["110103"]["valid_to"] == "2010"
    codes = {r["code"] for r in _rows()}
    assert len(codes) > 6000 and all(re.fullmatch(r"\d{6}", code) for code in codes)


def test_rows_parse_from_the_source_format():
    source = '11 province="北京市"\n  0000 county="北京市"\n  0110 county="[-1986]燕山区,[1986-]房山区"\n'
    assert gb2260.rows(source) == [
        ("110000", "北京市", "", ""),
        ("110110", "燕山区", "", "1986"),
        ("110110", "房山区", "1986", ""),
    ]
