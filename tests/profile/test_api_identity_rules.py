"""Identity rules from the standards, through the API: resident ID area codes and a credit code's
division code against GB/T 2260."""

import pytest

from services.profile.service.identity import credit_code_check_char, resident_id_check_char
from tests.profile import factories as f


def _rid(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


def _uscc(first17: str) -> str:
    return first17 + credit_code_check_char(first17)


def _problem_fields(resp) -> set[str]:
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] == "validation_failed"
    return {e["loc"][-1] for e in resp.json()["errors"]}


@pytest.mark.parametrize(
    "area",
    [
        "110105",  # 朝阳区, Beijing
        "110103",  # 崇文区: merged into 东城区 in 2010; numbers issued before keep it
        "440300",  # 深圳市, a prefecture-level code
        "500105",  # 江北区, Chongqing
        "652901",  # 阿克苏市, Xinjiang
    ],
)
def test_resident_id_with_a_real_area_code_registers(client, auth, area):
    body = f.individual(resident_id=f.resident_id(area=area))
    assert f.register(client, auth("staff"), body)["id_number"].startswith(area)


@pytest.mark.parametrize(
    "number",
    [
        "99010519800101001X",  # no province 99
        "000000198001010013",  # no division 000000
        _rid("11019919800101001"),  # Beijing has no 1101 99
        _rid("71000019800101001"),  # Taiwan: not on a mainland resident ID
        _rid("81000019800101001"),  # Hong Kong: a residence permit's area, not a resident ID's
        _rid("83000019800101001"),
    ],
)
def test_resident_id_with_an_area_code_not_in_gb2260_is_422(client, auth, number):
    resp = client.post("/v1/customers", json=f.individual(resident_id=number), headers=auth("staff"))
    assert _problem_fields(resp) == {"resident_id"}
    assert "GB/T 2260" in resp.json()["errors"][0]["msg"] and number not in resp.text


def test_the_repros_have_correct_check_characters():
    assert _rid("99010519800101001") == "99010519800101001X"
    assert _rid("00000019800101001") == "000000198001010013"


@pytest.mark.parametrize(
    "division",
    ["110000", "110108", "440300", "100000"],  # Beijing, 海淀区, 深圳市, the central government
)
def test_credit_code_with_a_real_division_registers(client, auth, division):
    body = f.enterprise(credit_code=f.credit_code(division))
    assert f.register(client, auth("staff"), body)["id_number"][2:6] == division[:4]


@pytest.mark.parametrize(
    "first17", ["91990000MA1234567", "91000000MA1234567", "91110199MA1234567", "9111A000MA1234567"]
)
def test_credit_code_with_a_division_not_in_gb2260_is_422(client, auth, first17):
    resp = client.post("/v1/customers", json=f.enterprise(credit_code=_uscc(first17)), headers=auth("staff"))
    assert _problem_fields(resp) == {"credit_code"}


def test_credit_code_division_is_checked_before_any_override(client, auth):
    code = _uscc("91990000MA1234567")
    body = f.enterprise(credit_code=code[:17] + ("0" if code[17] != "0" else "1"), id_check_override_reason="x" * 20)
    assert _problem_fields(client.post("/v1/customers", json=body, headers=auth("supervisor"))) == {"credit_code"}


def test_search_by_a_credit_code_with_a_bad_division_is_422(client, auth):
    resp = client.get("/v1/customers", params={"id_number": _uscc("91990000MA1234567")}, headers=auth("staff"))
    assert _problem_fields(resp) == {"id_number"}
