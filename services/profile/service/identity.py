"""Identity numbers: resident ID (GB 11643), unified social credit code (GB 32100), the
administrative division codes both carry (GB/T 2260, from python-stdnum: service/divisions.py), country codes
(ISO 3166-1) and emails. Pure functions; each raises ValueError with a reason a person reads."""

import re
from datetime import date
from functools import cache

import pycountry

from services.profile.service.divisions import division_rows

_RID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RID_CHECK = "10X98765432"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)  # 3^(i-1) mod 31
# Registration authorities of the central government write 100000 where a division code stands.
_USCC_NATIONAL = "100000"
# Provinces in GB/T 2260 whose codes no mainland resident ID carries: Taiwan, Hong Kong, Macao.
_OUTSIDE_MAINLAND = frozenset({"71", "81", "82"})
# ICAO Doc 9303 issuing-state codes outside ISO 3166-1: British nationals of other kinds (GBN is the
# British National (Overseas) passport), Kosovo, the United Nations, stateless persons and refugees.
_ICAO_STATES = frozenset({"GBD", "GBN", "GBO", "GBP", "GBS", "RKS", "UNO", "UNA", "UNK", "XXA", "XXB", "XXC", "EUE"})
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}$")
EARLIEST_BIRTH = date(1900, 1, 1)


@cache
def division_codes() -> frozenset[str]:
    """Every six-digit code GB/T 2260 has published since 1980 (province, prefecture and county
    level), abolished ones included: a number keeps the code it was issued with."""
    return frozenset(code for code, _name, _from, _to in division_rows())


def is_mainland_division(code: str) -> bool:
    return code in division_codes() and code[:2] not in _OUTSIDE_MAINLAND


def is_country_alpha3(code: str) -> bool:
    """ISO 3166-1 alpha-3, or one of the ICAO codes for passports that no ISO country issues."""
    return code in _ICAO_STATES or pycountry.countries.get(alpha_3=code) is not None


def is_country_numeric(code: str) -> bool:
    return pycountry.countries.get(numeric=code) is not None


def resident_id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2, as GB 11643 uses it (and the documents built like a resident ID)."""
    return _RID_CHECK[sum(int(c) * w for c, w in zip(first17, _RID_WEIGHTS, strict=True)) % 11]


def check_birth_date(year: int, month: int, day: int, what: str, today: date | None = None) -> date:
    try:
        born = date(year, month, day)
    except ValueError:
        raise ValueError(f"the birth date in the {what} is not a real date") from None
    if not EARLIEST_BIRTH <= born <= (today or date.today()):
        raise ValueError(f"the birth date in the {what} is out of range")
    return born


def validate_gb11643(value: str, what: str, today: date | None = None) -> str:
    """An 18-character number shaped like a resident ID: 17 digits (the birth date at 7-14) and the
    MOD 11-2 check character. What the first six digits mean is the caller's rule."""
    value = value.strip().upper()
    if len(value) != 18 or not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise ValueError(f"a {what} is 17 digits and a check character (digit or X)")
    check_birth_date(int(value[6:10]), int(value[10:12]), int(value[12:14]), what, today)
    if resident_id_check_char(value[:17]) != value[17]:
        raise ValueError(f"the {what}'s check character is wrong")
    return value


def validate_resident_id(value: str, today: date | None = None) -> str:
    """The normalised (upper-case X) 18-character resident ID number; its area code must be a
    mainland division of GB/T 2260."""
    value = validate_gb11643(value, "resident ID number", today)
    if not is_mainland_division(value[:6]):
        raise ValueError("the resident ID number's area code is not a mainland division code (GB/T 2260)")
    return value


def credit_code_check_char(first17: str) -> str:
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def normalise_credit_code(value: str) -> str:
    """Upper-cased, 18 characters of the GB 32100 alphabet, characters 3-8 the registration
    authority's division code (GB/T 2260, or 100000 for the central government). The check
    character is not checked here: a supervisor may register an early code that fails it."""
    value = value.strip().upper()
    if len(value) != 18 or any(c not in _USCC_ALPHABET for c in value):
        raise ValueError("a unified social credit code is 18 characters from 0-9 and A-Y without I, O, S, V, Z")
    division = value[2:8]
    if division != _USCC_NATIONAL and division not in division_codes():
        raise ValueError("characters 3-8 of the credit code are not a division code (GB/T 2260)")
    return value


def credit_code_check_passes(value: str) -> bool:
    return credit_code_check_char(value[:17]) == value[17]


def normalise_email(value: str) -> str:
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("not an email address")
    local, _, domain = value.partition("@")
    return f"{local}@{domain.lower()}"
