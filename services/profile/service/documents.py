"""The identity documents an individual may register with, each with its own format rules and check
character where its standard has one, and the part of its number that identifies the person (what
duplicate detection hashes). Pure functions; each raises ValueError with a reason a person reads.

- resident_id: 居民身份证, the mainland Resident Identity Card. GB 11643: a mainland area code of
  GB/T 2260, the birth date, a serial, the MOD 11-2 check character.
- passport: a passport of any state, with `country` (ISO 3166-1 alpha-3). The ICAO 9303 document
  number: 5 to 9 of A-Z 0-9 (its check digit is in the machine-readable zone, not the number).
- residence_permit: 港澳台居民居住证, Residence Permit for Hong Kong, Macao and Taiwan residents. As
  GB 11643, area code 810000 (Hong Kong), 820000 (Macao) or 830000 (Taiwan).
- hk_macao_permit: 港澳居民来往内地通行证 (回乡证), Mainland Travel Permit for Hong Kong and Macao
  residents. H (Hong Kong) or M (Macao) and 8 digits; older cards add 2 digits counting the issues.
- taiwan_permit: 台湾居民来往大陆通行证 (台胞证), Mainland Travel Permit for Taiwan residents. 8 digits.
- foreign_permanent_id: 外国人永久居留身份证, Foreign Permanent Resident ID Card. The 2017 card's 15
  characters or the 2023 card's 18 starting with 9 (_foreign_permanent_id).
"""

import re
from datetime import date

from services.profile.service.identity import (
    check_birth_date,
    is_country_alpha3,
    is_country_numeric,
    is_mainland_division,
    validate_gb11643,
    validate_resident_id,
)

DOCUMENT_TYPES = (
    "resident_id",
    "passport",
    "residence_permit",
    "hk_macao_permit",
    "taiwan_permit",
    "foreign_permanent_id",
)
_PERMIT_AREAS = {"810000": "Hong Kong", "820000": "Macao", "830000": "Taiwan"}
_PASSPORT = re.compile(r"^[A-Z0-9]{5,9}$")
_HK_MACAO = re.compile(r"^[HM]\d{8}(\d{2})?$")
_TAIWAN = re.compile(r"^\d{8}$")
_FPR_2017 = re.compile(r"^[A-Z]{3}\d{12}$")
_FPR_2023 = re.compile(r"^9\d{16}[\dX]$")
_SPACES = re.compile(r"[\s-]")


def normalise_country(value: str) -> str:
    value = value.strip().upper()
    if not is_country_alpha3(value):
        raise ValueError("not a country code (ISO 3166-1 alpha-3, as in the passport's machine-readable zone)")
    return value


def icao_check_digit(chars: str) -> str:
    """ICAO Doc 9303 check digit: weights 7, 3, 1 over digits and letters (A=10 ... Z=35), mod 10."""
    values = (int(c) if c.isdigit() else ord(c) - ord("A") + 10 for c in chars)
    return str(sum(v * (7, 3, 1)[i % 3] for i, v in enumerate(values)) % 10)


def _residence_permit(value: str, today: date | None) -> str:
    value = validate_gb11643(value, "residence permit number", today)
    if value[:6] not in _PERMIT_AREAS:
        raise ValueError("a residence permit number starts 810000 (Hong Kong), 820000 (Macao) or 830000 (Taiwan)")
    return value


def _foreign_permanent_id(value: str, today: date | None) -> str:
    """2017 card, 15 characters: nationality (ISO alpha-3), the accepting authority's division (4
    digits: province and prefecture), birth date YYMMDD, a digit, an ICAO check digit.
    2023 card, 18: 9, the accepting province (2 digits), nationality (ISO numeric), birth date
    YYYYMMDD, a 3-digit sequence, the MOD 11-2 check character of resident IDs."""
    what = "permanent residence card number"
    if _FPR_2023.match(value):
        value = validate_gb11643(value, what, today)
        if not is_mainland_division(value[1:3] + "0000"):
            raise ValueError("characters 2-3 of the permanent residence card number are not a province code")
        if not is_country_numeric(value[3:6]):
            raise ValueError("characters 4-6 of the permanent residence card number are not a country (ISO 3166-1)")
        return value
    if not _FPR_2017.match(value):
        raise ValueError(f"a {what} is 3 letters and 12 digits (2017 card) or 18 characters starting 9 (2023 card)")
    if not is_country_alpha3(value[:3]):
        raise ValueError("the permanent residence card number does not start with a country code (ISO 3166-1)")
    if not is_mainland_division(value[3:7] + "00"):
        raise ValueError("characters 4-7 of the permanent residence card number are not a division code (GB/T 2260)")
    yy, mm, dd = int(value[7:9]), int(value[9:11]), int(value[11:13])
    today = today or date.today()
    century = 2000 if date(2000 + yy, 1, 1) <= today else 1900
    check_birth_date(century + yy, mm, dd, what, today)
    if icao_check_digit(value[:14]) != value[14]:
        raise ValueError(f"the {what}'s check digit is wrong")
    return value


def validate_document_number(doc_type: str, value: str, today: date | None = None) -> str:
    """The number as stored: upper-cased, spaces and hyphens removed."""
    value = _SPACES.sub("", value).upper()
    if doc_type == "resident_id":
        return validate_resident_id(value, today)
    if doc_type == "residence_permit":
        return _residence_permit(value, today)
    if doc_type == "foreign_permanent_id":
        return _foreign_permanent_id(value, today)
    if doc_type == "passport":
        if not _PASSPORT.match(value):
            raise ValueError("a passport number is 5 to 9 letters and digits (ICAO 9303)")
        return value
    if doc_type == "hk_macao_permit":
        if not _HK_MACAO.match(value):
            raise ValueError("a Mainland Travel Permit for HK and Macao residents is H or M and 8 or 10 digits")
        return value
    if doc_type == "taiwan_permit":
        if not _TAIWAN.match(value):
            raise ValueError("a Mainland Travel Permit for Taiwan residents is 8 digits")
        return value
    raise ValueError(f"not an identity document type: {', '.join(DOCUMENT_TYPES)}")


def identity_key(doc_type: str, number: str, country: str | None = None) -> str:
    """The part of a valid number that names the person for life: an older HK or Macao permit's last
    two digits count its issues, so H1234567801 and H12345678 are one person; a passport number is
    unique only within its issuing state."""
    if doc_type == "hk_macao_permit":
        return number[:9]
    if doc_type == "passport":
        return f"{country}:{number}"
    return number
