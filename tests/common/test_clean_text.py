"""services/common/text.py: the one rule for text every service keeps."""

import pytest
from sqlalchemy import exc, text

from services.common.db import build_engine
from services.common.text import control_characters_in, multi_line, name, single_line


@pytest.mark.parametrize("value", ["a\x00b", "\x1b[31m", "bell\x07", "del\x7f", "form\x0cfeed"])
def test_control_characters_are_refused_in_every_kind_of_text(value):
    for check in (multi_line, single_line, name):
        with pytest.raises(ValueError, match="control characters|single line"):
            check(value)


def test_multi_line_text_keeps_tabs_and_new_lines_single_line_does_not():
    assert multi_line("第一行\r\n第二行\t完") == "第一行\r\n第二行\t完"
    for value in ("a\nb", "a\rb", "a\tb"):
        with pytest.raises(ValueError, match="single line"):
            single_line(value)


@pytest.mark.parametrize(
    "value",
    ["\u200b\u200b", "\u202egnp.exe王", "王\u200d小明", "\ufeff李华", "\u2066张伟\u2069"],
)
def test_names_refuse_format_characters(value):
    with pytest.raises(ValueError, match="invisible formatting"):
        name(value)


def test_names_are_nfkc_normalised_and_need_something_visible():
    assert name("ＡＢＣ科技有限公司") == "ABC科技有限公司"
    assert name("阿卜杜拉·买买提") == "阿卜杜拉·买买提"  # the middle dot of minority names stays
    assert name("  李华 ") == "李华"
    for value in ("   ", "···", "\u3000"):
        with pytest.raises(ValueError, match="letter or digit"):
            name(value)


@pytest.mark.parametrize(
    ("body", "locs"),
    [
        (b'{"a": "x\\u0000y"}', [["body", "a"]]),
        (b'{"a": [{"b": "ok"}, {"b": "\\u001b"}]}', [["body", "a", 1, "b"]]),
        (b'{"a": "\\b", "c": "\\f", "d": "\x7f"}', [["body", "a"], ["body", "c"], ["body", "d"]]),
        (b'{"k\\u0000": 1}', [["body"]]),
        (b'{"a": "line\\nline\\ttab\\r"}', []),
        (b'{"path": "C:\\\\bin"}', []),  # an escaped backslash before b: looks suspect, is not
        (b'{"a": "\\u0000', []),  # not JSON: the body parser's to say
    ],
)
def test_a_json_body_is_searched_for_control_characters_where_they_are(body, locs):
    assert [e["loc"] for e in control_characters_in(body)] == locs


def test_a_failing_statements_error_never_shows_its_parameters(tmp_path):
    engine = build_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE t (v TEXT NOT NULL UNIQUE)"))
        conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": "李华 13800138000"})
        with pytest.raises(exc.IntegrityError) as caught:
            conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": "李华 13800138000"})
    assert "13800138000" not in str(caught.value) and "hidden" in str(caught.value)
    engine.dispose()
