"""Phone numbers: mainland mobiles and landlines (stored as digits, as dialled inside the mainland)
and numbers elsewhere in E.164 (stored as +<country code><number>): Hong Kong, Macao and Taiwan and
every other country, checked against libphonenumber's numbering plans (the phonenumbers package).
Pure functions; each raises ValueError with a reason a person reads."""

import re

import phonenumbers
from phonenumbers import PhoneNumberType

MOBILE = re.compile(r"^1[3-9]\d{9}$")
_SEPARATORS = re.compile(r"[\s()-]")
_E164_MAX_DIGITS = 15
_KINDS = {
    PhoneNumberType.MOBILE: frozenset({"mobile"}),
    PhoneNumberType.FIXED_LINE: frozenset({"landline"}),
    PhoneNumberType.FIXED_LINE_OR_MOBILE: frozenset({"mobile", "landline"}),  # plans that do not tell (US)
    PhoneNumberType.VOIP: frozenset({"landline"}),
    PhoneNumberType.PERSONAL_NUMBER: frozenset({"landline"}),
    PhoneNumberType.UAN: frozenset({"landline"}),
}


def _landline(digits: str) -> str:
    """0 + area code + local number. The area code's length follows its first digits: 010 and 02x
    are three digits and take an 8-digit number; every other (0 + three digits, 03xx-09xx) is four
    digits and takes 7 or 8. A local number never starts with 0 or 1."""
    if not digits.isdigit():
        raise ValueError("a mainland landline is digits: area code with 0, then the number")
    if digits[1] == "1" and not digits.startswith("010"):
        raise ValueError("no mainland area code starts 01 but 010")
    three = digits[1] in "12"
    area, local = (digits[:3], digits[3:]) if three else (digits[:4], digits[4:])
    lengths = (8,) if three else (7, 8)
    if len(local) not in lengths:
        raise ValueError(f"after area code {area} a landline number has {' or '.join(map(str, lengths))} digits")
    if local[0] in "01":
        raise ValueError("a landline number after its area code does not start with 0 or 1")
    return digits


def _mainland(digits: str, *, international: bool) -> str:
    """Digits after +86 drop the trunk 0 of a landline (+86 10 ...); as dialled at home they keep it."""
    if MOBILE.match(digits):
        return digits
    if international and not digits.startswith("0"):
        digits = "0" + digits
    if digits.startswith("0") and len(digits) >= 3:
        return _landline(digits)
    raise ValueError("not a mainland mobile (1xxxxxxxxxx) or landline (0xx-xxxxxxxx) number")


def _elsewhere(digits: str) -> str:
    """+<country code><number>: at most 15 digits (E.164), a number the country's plan knows."""
    if not digits.isdigit() or len(digits) > _E164_MAX_DIGITS:
        raise ValueError("an international number is + and at most 15 digits (E.164)")
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        raise ValueError("not a known country calling code") from None
    if not phonenumbers.is_valid_number(number):
        region = phonenumbers.region_code_for_number(number) or f"+{number.country_code}"
        raise ValueError(f"not a valid number for {region} (length or leading digits)")
    if phonenumbers.number_type(number) not in _KINDS:
        raise ValueError("not a number a person answers (toll-free, premium rate, pager or the like)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_phone(value: str) -> str:
    """A mainland number as digits (+86 and 0086 dropped), or any other as E.164 (+852..., 00852...)."""
    digits = _SEPARATORS.sub("", value.strip())
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            return _mainland(digits[len(prefix) :], international=True)
    if digits.startswith("+"):
        return _elsewhere(digits[1:])
    if digits.startswith("00"):
        return _elsewhere(digits[2:])
    return _mainland(digits, international=False)


def phone_kinds(normalised: str) -> frozenset[str]:
    """Which contact kinds a stored number serves: mobile, landline, or both where the plan does not
    tell them apart."""
    if not normalised.startswith("+"):
        return frozenset({"mobile"}) if MOBILE.match(normalised) else frozenset({"landline"})
    return _KINDS.get(phonenumbers.number_type(phonenumbers.parse(normalised, None)), frozenset({"landline"}))
