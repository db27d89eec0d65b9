"""Identity numbers and contact formats: resident ID (GB 11643), unified social credit code
(GB 32100), phones and emails. Pure functions; each raises ValueError with a reason a person reads."""

import re
from datetime import date

_RID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RID_CHECK = "10X98765432"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)  # 3^(i-1) mod 31
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}\d{7,8}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}$")
EARLIEST_BIRTH = date(1900, 1, 1)


def resident_id_check_char(first17: str) -> str:
    return _RID_CHECK[sum(int(c) * w for c, w in zip(first17, _RID_WEIGHTS, strict=True)) % 11]


def validate_resident_id(value: str, today: date | None = None) -> str:
    """The normalised (upper-case X) 18-character resident ID number."""
    value = value.strip().upper()
    if len(value) != 18 or not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise ValueError("a resident ID number is 17 digits and a check character (digit or X)")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValueError("the birth date in the resident ID number is not a real date") from None
    if not EARLIEST_BIRTH <= born <= (today or date.today()):
        raise ValueError("the birth date in the resident ID number is out of range")
    if resident_id_check_char(value[:17]) != value[17]:
        raise ValueError("the resident ID number's check character is wrong")
    return value


def credit_code_check_char(first17: str) -> str:
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def normalise_credit_code(value: str) -> str:
    """Upper-cased, 18 characters of the GB 32100 alphabet (the check character is not checked here)."""
    value = value.strip().upper()
    if len(value) != 18 or any(c not in _USCC_ALPHABET for c in value):
        raise ValueError("a unified social credit code is 18 characters from 0-9 and A-Y without I, O, S, V, Z")
    return value


def credit_code_check_passes(value: str) -> bool:
    return credit_code_check_char(value[:17]) == value[17]


def normalise_phone(value: str) -> str:
    """A mainland mobile (11 digits) or landline (area code with 0, then 7-8 digits), digits only."""
    digits = re.sub(r"[\s()-]", "", value.strip())
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
    if _MOBILE.match(digits) or _LANDLINE.match(digits):
        return digits
    raise ValueError("not a mainland mobile (1xxxxxxxxxx) or landline (0xx-xxxxxxxx) number")


def normalise_email(value: str) -> str:
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("not an email address")
    local, _, domain = value.partition("@")
    return f"{local}@{domain.lower()}"
