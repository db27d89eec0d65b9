"""Money: integer fen in the database, a two-place decimal string (CNY) in the API; never a float."""

from decimal import Decimal, InvalidOperation


def fen_to_str(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def str_to_fen(text: str) -> int:
    """'12345.67' -> 1234567; raises ValueError for anything that is not a finite amount in fen."""
    whole, dot, cents = text.partition(".")
    # The usual form (ASCII digits, at most two after the point) as integers: a batch of a thousand
    # transactions converts two thousand amounts, and Decimal costs a microsecond each.
    if 0 < len(whole) <= 15 and whole.isascii() and whole.isdigit():
        if not dot:
            return int(whole) * 100
        if 0 < len(cents) <= 2 and cents.isascii() and cents.isdigit():
            return int(whole) * 100 + int(cents.ljust(2, "0"))
    try:
        scaled = Decimal(text) * 100
    except InvalidOperation:
        raise ValueError("not a decimal amount") from None
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise ValueError("an amount has at most two decimal places")
    return int(scaled)
