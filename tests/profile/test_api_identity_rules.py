"""Identity rules from the standards, through the API: resident ID area codes and a credit code's
division code against GB/T 2260, landline lengths by area code, numbers outside the mainland in
E.164, for registration, updates, contacts and search."""

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


def _contact(client, headers, cid, kind, value):
    return client.post(f"/v1/customers/{cid}/contacts", json={"kind": kind, "value": value}, headers=headers)


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


@pytest.mark.parametrize(
    "phone, stored",
    [
        ("010-62345678", "01062345678"),  # 3-digit area code, 8 digits
        ("021 6123 4567", "02161234567"),
        ("0755-2345678", "07552345678"),  # 4-digit area code, 7 digits
        ("0755-23456789", "075523456789"),  # or 8
        ("+86 10 6234 5678", "01062345678"),  # E.164 drops the trunk 0
        ("0086-755-2345678", "07552345678"),
    ],
)
def test_landline_lengths_follow_the_area_code(client, auth, profile_app, phone, stored):
    c = f.register(client, auth("staff"), f.enterprise(phone=phone))
    full = client.get(
        f"/v1/customers/{c['id']}/personal-data", params={"reason": "checking the phone"}, headers=auth("supervisor")
    )
    assert full.json()["phone"] == stored


@pytest.mark.parametrize(
    "phone",
    [
        "010-1234567",  # 3-digit area code, 7 digits
        "010-123456789",  # 9 digits
        "020-1234567",
        "0755-123456",  # 4-digit area code, 6 digits
        "0755-123456789",  # 9 digits
        "011-23456789",  # no area code 011
        "010-02345678",  # a local number never starts with 0
        "0755-1234567",  # or 1
    ],
)
def test_landline_of_the_wrong_length_for_its_area_code_is_422(client, auth, phone):
    assert _problem_fields(client.post("/v1/customers", json=f.enterprise(phone=phone), headers=auth("staff"))) == {
        "phone"
    }


@pytest.mark.parametrize("phone", ["010-1234567", "010-123456789"])
def test_bad_landline_in_an_update_a_contact_or_a_search_is_422(client, auth, phone):
    c = f.register(client, auth("staff"), f.enterprise())
    headers = {**auth("staff"), "If-Match": '"1"'}
    update = client.patch(f"/v1/customers/{c['id']}", json={"phone": phone}, headers=headers)
    assert _problem_fields(update) == {"phone"}
    contact = _contact(client, auth("staff"), c["id"], "landline", phone)
    assert contact.json()["errors"][0]["loc"] == ["body", "value"]
    assert _problem_fields(client.get("/v1/customers", params={"phone": phone}, headers=auth("staff"))) == {"phone"}


@pytest.mark.parametrize(
    "kind, value, stored",
    [
        ("mobile", "+852 6123 4567", "+85261234567"),  # Hong Kong: 8 digits
        ("landline", "+852 2123 4567", "+85221234567"),
        ("mobile", "00853 6612 3456", "+85366123456"),  # Macao: 8 digits, from the mainland with 00
        ("mobile", "+886 912 345 678", "+886912345678"),  # Taiwan mobile: 9 digits
        ("landline", "+886 2 2123 4567", "+886221234567"),
        ("mobile", "+44 7911 123456", "+447911123456"),
        ("mobile", "+1 (650) 253-0000", "+16502530000"),  # the plan does not tell mobile from fixed
        ("landline", "+1 650 253 0000", "+16502530000"),
    ],
)
def test_contacts_outside_the_mainland_are_stored_in_e164(client, auth, kind, value, stored):
    c = f.register(client, auth("staff"))
    resp = _contact(client, auth("staff"), c["id"], kind, value)
    assert resp.status_code == 201, resp.text
    assert resp.json()["value"] == stored[:3] + "*" * (len(stored) - 7) + stored[-4:]
    export = client.get(f"/v1/customers/{c['id']}/export", headers=auth("supervisor")).json()
    assert [(p["kind"], p["value"]) for p in export["contacts"]] == [(kind, stored)]


@pytest.mark.parametrize(
    "kind, value",
    [
        ("mobile", "+852 6123 456"),  # Hong Kong: 7 digits
        ("mobile", "+852 6123 45678"),  # 9
        ("mobile", "+853 6612 345"),  # Macao: 7
        ("mobile", "+886 912 345 67"),  # Taiwan mobile: 8
        ("mobile", "+886 912 345 6789"),  # 10
        ("mobile", "+852 2123 4567"),  # a Hong Kong landline is not a mobile
        ("landline", "+852 6123 4567"),  # nor the other way round
        ("mobile", "+44 7911 1234 5678 901"),  # 16 digits: longer than E.164 allows
        ("mobile", "+999 1234 5678"),  # no country calling code 999
        ("landline", "+1 800 253 0000"),  # toll-free: no one's own number
        ("mobile", "+852-6123-456x"),
    ],
)
def test_bad_contact_outside_the_mainland_is_422_naming_value(client, auth, kind, value):
    c = f.register(client, auth("staff"))
    resp = _contact(client, auth("staff"), c["id"], kind, value)
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "value"], resp.text
    assert value not in resp.text


def test_customer_phone_may_be_outside_the_mainland_and_is_found_by_any_spelling(client, auth):
    body = f.individual(phone="+852 6123 4567")
    c = f.register(client, auth("staff"), body)
    assert c["phone"] == "+85*****4567"
    for spelling in ("+85261234567", "00852 6123 4567", "+852-6123-4567"):
        found = client.get("/v1/customers", params={"phone": spelling}, headers=auth("staff")).json()["items"]
        assert [x["id"] for x in found] == [c["id"]]


@pytest.mark.parametrize("phone", ["+852 6123 456", "+886 912 345 67", "+999 1234 5678"])
def test_bad_customer_phone_outside_the_mainland_is_422(client, auth, phone):
    assert _problem_fields(client.post("/v1/customers", json=f.individual(phone=phone), headers=auth("staff"))) == {
        "phone"
    }


def test_a_registered_hong_kong_mobile_makes_sms_usable(client, auth):
    c = f.register(client, auth("staff"), f.individual(phone="+852 6123 4567", email=None))
    consent = {"channel": "sms", "status": "granted", "given_via": "counter", "policy_version": "2026.1"}
    assert client.post(f"/v1/customers/{c['id']}/consents", json=consent, headers=auth("staff")).status_code == 201
    reach = client.get(
        f"/v1/customers/{c['id']}/contactability", params={"purpose": "marketing"}, headers=auth("staff")
    ).json()
    assert "sms" in reach["contactable_channels"]
