"""The GB/T 2260 division codes read from python-stdnum's table: every level, abolished codes kept;
the type lists agree."""

import re
from pathlib import Path
from typing import get_args

from services.profile.models import ID_TYPES
from services.profile.schemas.customers import DocumentType, IdType
from services.profile.service.divisions import division_rows, rows
from services.profile.service.documents import DOCUMENT_TYPES
from services.profile.service.identity import division_codes, is_mainland_division

ROOT = Path(__file__).parents[2]


def _rows() -> list[dict[str, str]]:
    return [dict(zip(("code", "name", "valid_from", "valid_to"), row, strict=True)) for row in division_rows()]


def test_codes_span_province_prefecture_and_county_level_since_1980():
    names = {(r["code"], r["name"]) for r in _rows()}
    assert {("110000", "北京市"), ("440300", "深圳市"), ("110105", "朝阳区")} <= names
    abolished = {r["code"]: r for r in _rows() if r["valid_to"]}
    assert abolished["110103"]["name"] == "崇文区" and abolished["110103"]["valid_to"] == "2010"
    assert len(division_codes()) > 6000
    assert all(re.fullmatch(r"\d{6}", code) for code in division_codes())


def test_abolished_codes_stay_valid_and_codes_outside_the_mainland_are_not_mainland():
    assert is_mainland_division("110103")  # 崇文区, merged into 东城区 in 2010: its people keep their numbers
    assert is_mainland_division("510200")  # 重庆市 under Sichuan until 1997
    for code in ("710000", "810000", "820000"):  # Taiwan, Hong Kong, Macao
        assert code in division_codes() and not is_mainland_division(code)
    for code in ("990105", "000000", "830000", "110199"):
        assert not is_mainland_division(code)


def test_rows_parse_from_the_source_format():
    source = '11 province="北京市"\n  0000 county="北京市"\n  0110 county="[-1986]燕山区,[1986-]房山区"\n'
    assert rows(source) == [
        ("110000", "北京市", "", ""),
        ("110110", "燕山区", "", "1986"),
        ("110110", "房山区", "1986", ""),
    ]


def test_the_registration_bench_uses_real_area_codes():
    lua = (ROOT / "bench" / "lua" / "register.lua").read_text()
    areas = re.findall(r'"(\d{6})"', lua.split("local AREAS = {", 1)[1].split("}", 1)[0])
    assert len(set(areas)) == 100 and all(is_mainland_division(a) for a in areas)
    assert "110105" not in areas  # bench/seed.py's area


def test_type_lists_agree():
    assert get_args(DocumentType) == DOCUMENT_TYPES
    assert set(get_args(IdType)) == set(ID_TYPES) == {"credit_code", *DOCUMENT_TYPES}
