"""An individual registers with any of the identity documents (`id_document`), `resident_id` keeps
working; each document's format rules and check characters; duplicates by type and number across
both spellings; search, full reads, the export and erasure carry the document."""

import pytest

from services.profile.service.documents import icao_check_digit
from services.profile.service.identity import resident_id_check_char
from tests.profile import factories as f


def _doc(doc_type: str, number: str, country: str | None = None) -> dict:
    return {"type": doc_type, "number": number} | ({"country": country} if country else {})


def _register_doc(client, auth, doc: dict, **overrides):
    body = f.individual(**overrides)
    del body["resident_id"]
    return client.post("/v1/customers", json={**body, "id_document": doc}, headers=auth("staff"))


def _full(client, auth, cid: str) -> dict:
    resp = client.get(f"/v1/customers/{cid}/personal-data", params={"reason": "checking the id"}, headers=auth("admin"))
    assert resp.status_code == 200
    return resp.json()


def _rid(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


def _fpr17(first14: str) -> str:
    assert len(first14) == 14
    return first14 + icao_check_digit(first14)


def _wrong(number: str) -> str:
    return number[:-1] + ("1" if number[-1] != "1" else "2")


VALID = [
    ("resident_id", lambda: f.resident_id(), None, "110105********{}"),
    ("passport", lambda: f.passport_number(), "GBR", "{0}{1}****{2}"),
    ("passport", lambda: "E" + f.taiwan_permit(), "CHN", "{0}{1}****{2}"),
    ("passport", lambda: "k1234567" + str(f._rng.randrange(10)), "GBN", "{0}{1}****{2}"),  # BN(O): an ICAO code
    ("residence_permit", lambda: f.residence_permit("810000"), None, "810000********{}"),
    ("residence_permit", lambda: f.residence_permit("820000"), None, "820000********{}"),
    ("residence_permit", lambda: f.residence_permit("830000"), None, "830000********{}"),
    ("hk_macao_permit", lambda: f.hk_macao_permit("H"), None, "{0}{1}****{2}"),
    ("hk_macao_permit", lambda: f.hk_macao_permit("M") + "02", None, "{0}{1}******{2}"),  # older card: 10 digits
    ("taiwan_permit", lambda: f.taiwan_permit(), None, "{0}{1}***{2}"),
    ("foreign_permanent_id", lambda: f.foreign_permanent_id_2017(), None, "{0}{1}**********{2}"),
    ("foreign_permanent_id", lambda: f.foreign_permanent_id_2023(), None, "{0}{1}*************{2}"),
]


@pytest.mark.parametrize("doc_type, make, country, shown", VALID, ids=[f"{v[0]}-{i}" for i, v in enumerate(VALID)])
def test_register_with_each_document_returns_it_masked(client, auth, doc_type, make, country, shown):
    number = make()
    resp = _register_doc(client, auth, _doc(doc_type, number, country))
    assert resp.status_code == 201, resp.text
    c = resp.json()
    assert c["id_type"] == doc_type and c["id_country"] == country
    stored = number.upper()
    if doc_type in ("resident_id", "residence_permit"):
        assert c["id_number"] == shown.format(stored[-4:])
    else:
        assert c["id_number"] == shown.format(stored[0], stored[1], stored[-3:])
    assert number not in resp.text
    assert _full(client, auth, c["id"])["id_number"] == stored
    assert _full(client, auth, c["id"])["id_country"] == country


def test_resident_id_field_and_document_are_the_same_identity(client, auth):
    number = f.resident_id()
    first = f.register(client, auth("staff"), f.individual(resident_id=number))
    resp = _register_doc(client, auth, _doc("resident_id", number.lower()))
    assert resp.status_code == 409 and resp.json()["existing_customer_id"] == first["id"]
    other = f.resident_id()
    assert _register_doc(client, auth, _doc("resident_id", other)).status_code == 201
    again = client.post("/v1/customers", json=f.individual(resident_id=other), headers=auth("staff"))
    assert again.status_code == 409


@pytest.mark.parametrize(
    "doc, again",
    [
        (_doc("passport", "123456789", "GBR"), _doc("passport", "123456789", "gbr")),
        (_doc("hk_macao_permit", "H12345678"), _doc("hk_macao_permit", "H1234567803")),  # the card's 3rd issue
        (_doc("hk_macao_permit", "M1234567801"), _doc("hk_macao_permit", "m 1234 5678")),
        (_doc("taiwan_permit", "12345678"), _doc("taiwan_permit", "1234-5678")),
        (_doc("foreign_permanent_id", _fpr17("KAZ11009012310")), None),
    ],
)
def test_the_same_document_twice_is_409_naming_the_first(client, auth, doc, again):
    first = _register_doc(client, auth, doc)
    assert first.status_code == 201, first.text
    resp = _register_doc(client, auth, again or doc)
    assert resp.status_code == 409 and resp.json()["code"] == "customer_duplicate"
    assert resp.json()["existing_customer_id"] == first.json()["id"]


def test_equal_numbers_on_different_documents_are_different_people(client, auth):
    for doc in (
        _doc("taiwan_permit", "12345678"),
        _doc("passport", "12345678", "USA"),
        _doc("passport", "12345678", "CAN"),
        _doc("passport", "H12345678", "GBR"),
        _doc("hk_macao_permit", "H12345678"),
    ):
        assert _register_doc(client, auth, doc).status_code == 201, doc


BAD = [
    ("number", _doc("resident_id", "99010519800101001X")),  # area not in GB/T 2260
    ("number", _doc("resident_id", "000000198001010013")),
    ("number", _doc("passport", "1234", "GBR")),  # 4 characters
    ("number", _doc("passport", "1234567890", "GBR")),  # 10
    ("number", _doc("passport", "12345!78", "GBR")),
    ("country", _doc("passport", "123456789", "ZZZ")),  # no such state
    ("country", _doc("passport", "123456789", "GB")),
    ("country", _doc("passport", "123456789")),  # a passport needs its issuing state
    ("country", _doc("taiwan_permit", "12345678", "TWN")),  # and only a passport has one
    ("number", _doc("residence_permit", _rid("11010519800101001"))),  # a resident ID's area
    ("number", _doc("residence_permit", _rid("71000019800101001"))),  # Taiwan's permits say 830000
    ("number", _doc("residence_permit", _wrong(_rid("81000019800101001")))),  # check character
    ("number", _doc("residence_permit", _rid("81000019801301001"))),  # month 13
    ("number", _doc("hk_macao_permit", "A12345678")),
    ("number", _doc("hk_macao_permit", "H1234567")),  # 7 digits
    ("number", _doc("hk_macao_permit", "H123456789")),  # 9
    ("number", _doc("hk_macao_permit", "H123456789012")),  # 12
    ("number", _doc("taiwan_permit", "1234567")),
    ("number", _doc("taiwan_permit", "123456789")),
    ("number", _doc("taiwan_permit", "T1234567")),
    ("number", _doc("foreign_permanent_id", _fpr17("KAA11009012310"))),  # no country KAA
    ("number", _doc("foreign_permanent_id", _fpr17("KAZ99009012310"))),  # no division 9900
    ("number", _doc("foreign_permanent_id", _fpr17("KAZ11009002310"))),  # 31 February 1990
    ("number", _doc("foreign_permanent_id", "KAZ110090123107")),  # check digit (5 is right)
    ("number", _doc("foreign_permanent_id", _fpr17("KAZ81009012310"))),  # a Hong Kong division
    ("number", _doc("foreign_permanent_id", _wrong(_rid("91139819901231002")))),  # check character
    ("number", _doc("foreign_permanent_id", _rid("99939819901231002"))),  # no province 99
    ("number", _doc("foreign_permanent_id", _rid("91199919901231002"))),  # no country 999
    ("number", _doc("foreign_permanent_id", _rid("91139819900231002"))),  # 31 February
    ("number", _doc("foreign_permanent_id", _rid("81139819901231002"))),  # 18 characters must start 9
    ("number", _doc("foreign_permanent_id", "KAZ1100901231")),
    ("type", _doc("driving_licence", "12345678")),
]


@pytest.mark.parametrize("field, doc", BAD, ids=[f"{fld}-{i}" for i, (fld, _) in enumerate(BAD)])
def test_bad_document_is_422_naming_the_field(client, auth, field, doc):
    resp = _register_doc(client, auth, doc)
    assert resp.status_code == 422, resp.text
    errors = resp.json()["errors"]
    assert ["body", "id_document", field] in [e["loc"] for e in errors], errors
    assert doc["number"] not in resp.text


def test_the_repro_numbers_fail_on_their_area_code_alone():
    from services.profile.service.documents import validate_document_number

    for number in ("99010519800101001X", "000000198001010013"):
        with pytest.raises(ValueError, match="GB/T 2260"):
            validate_document_number("resident_id", number)


def test_permanent_residence_card_2017_reads_its_birth_year_in_either_century(client, auth):
    assert _register_doc(client, auth, _doc("foreign_permanent_id", _fpr17("KAZ11000002290"))).status_code == 201
    assert _register_doc(client, auth, _doc("foreign_permanent_id", _fpr17("KAZ11004506300"))).status_code == 201
    resp = _register_doc(client, auth, _doc("foreign_permanent_id", _fpr17("KAZ11000102290")))  # 29 Feb 1901 or 2001
    assert resp.status_code == 422 and "birth date" in resp.json()["errors"][0]["msg"]


def test_the_published_example_numbers_pass():
    from services.profile.service.documents import validate_document_number

    assert validate_document_number("foreign_permanent_id", "KAZ110090123105") == "KAZ110090123105"
    assert validate_document_number("foreign_permanent_id", "911398199012310021") == "911398199012310021"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"id_document": _doc("taiwan_permit", "12345678")}, "id_document"),  # and resident_id: not both
        ({"resident_id": None}, "resident_id"),  # neither
    ],
)
def test_individual_gives_exactly_one_of_resident_id_and_id_document(client, auth, change, field):
    body = {**f.individual(), **change}
    if body["resident_id"] is None:
        del body["resident_id"]
    resp = client.post("/v1/customers", json=body, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", field]


def test_organisation_with_id_document_is_422(client, auth):
    body = f.enterprise(id_document=_doc("passport", "123456789", "GBR"))
    resp = client.post("/v1/customers", json=body, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "id_document"]


def test_search_by_document(client, auth):
    passport = _register_doc(client, auth, _doc("passport", "123456789", "GBR")).json()
    _register_doc(client, auth, _doc("passport", "123456789", "USA"))
    permit = _register_doc(client, auth, _doc("hk_macao_permit", "H12345678")).json()
    taiwan = _register_doc(client, auth, _doc("taiwan_permit", "12345678")).json()

    def ids(**params) -> list[str]:
        resp = client.get("/v1/customers", params=params, headers=auth("staff"))
        assert resp.status_code == 200, resp.text
        return [c["id"] for c in resp.json()["items"]]

    assert ids(id_number="123456789", id_type="passport", id_country="gbr") == [passport["id"]]
    assert ids(id_number="H1234567899") == [permit["id"]]  # any issue of the card, the type inferred
    assert ids(id_number="12345678") == [taiwan["id"]]
    assert ids(id_number="12345678", id_type="taiwan_permit") == [taiwan["id"]]
    assert ids(id_number="12345678", id_type="passport", id_country="USA") == []


@pytest.mark.parametrize(
    "params, field",
    [
        ({"id_number": "123456789", "id_type": "passport"}, "id_country"),
        ({"id_number": "12345678", "id_type": "taiwan_permit", "id_country": "TWN"}, "id_country"),
        ({"id_number": "123456789", "id_type": "passport", "id_country": "ZZZ"}, "id_country"),
        ({"id_number": "1234567", "id_type": "taiwan_permit"}, "id_number"),
        ({"id_number": "99010519800101001X"}, "id_number"),
        ({"id_type": "passport"}, "id_type"),
        ({"id_country": "GBR"}, "id_country"),
        ({"id_number": "12345678", "id_type": "licence"}, "id_type"),
    ],
)
def test_bad_document_search_is_422_naming_the_parameter(client, auth, params, field):
    resp = client.get("/v1/customers", params=params, headers=auth("staff"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", field], resp.text


def test_export_carries_the_document_and_erasure_removes_it(client, auth):
    c = _register_doc(client, auth, _doc("passport", "123456789", "GBR")).json()
    doc = client.get(f"/v1/customers/{c['id']}/export", headers=auth("supervisor")).json()["customer"]
    assert (doc["id_type"], doc["id_number"], doc["id_country"]) == ("passport", "123456789", "GBR")
    erase = {"reason": "PIPL art. 47 request at counter", "requested_via": "counter"}
    status, req = f.erase(client, auth, c["id"], erase)
    assert status == 201, req
    assert "customer.id_country" in req["erased_fields"]
    after = _full(client, auth, c["id"])
    assert after["id_number"] == "" and after["id_country"] is None
    assert _register_doc(client, auth, _doc("passport", "123456789", "GBR")).status_code == 201  # may come back


def test_replay_with_a_document_returns_the_first_response(client, auth):
    body = f.individual()
    del body["resident_id"]
    body["id_document"] = _doc("passport", "987654321", "FRA")
    headers = {**auth("staff", sub="teller-9"), "Idempotency-Key": "doc-reg-1"}
    first = client.post("/v1/customers", json=body, headers=headers)
    again = client.post("/v1/customers", json=body, headers=headers)
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    other = {**body, "id_document": _doc("passport", "987654321", "DEU")}
    assert client.post("/v1/customers", json=other, headers=headers).json()["code"] == "idempotency_key_reused"
