"""Exact numbers for evaluation: inputs become Decimals from their string form, never via binary floats."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction

_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９．－＋", "0123456789.-+")


def to_decimal(value: object) -> Decimal | None:
    """The exact Decimal of a number or numeric text, or None when it is not one.

    A float goes through `str` (shortest round-trip form), so 0.1 stays 0.1 instead of
    0.1000000000000000055511151231257827...
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, Fraction):
        if value.denominator != 1:
            return None
        number = Decimal(value.numerator)
    else:
        text = str(value).strip().translate(_FULLWIDTH_DIGITS)
        if not text:
            return None
        try:
            number = Decimal(text)
        except (InvalidOperation, ValueError):
            return None
    if not number.is_finite():
        return None
    return number


def format_decimal(value: Decimal | int) -> str:
    """Plain decimal text without exponent or trailing zeros: 270, 30, 0.6, 0.05."""
    number = Decimal(value)
    if number == 0:
        return "0"
    text = format(number.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def fraction_to_text(value: Fraction, places: int = 4) -> str:
    """Exact decimal text when it terminates within `places`, else rounded with a leading ≈."""
    scaled = value * 10**places
    if scaled.denominator == 1:
        return format_decimal(Decimal(scaled.numerator).scaleb(-places))
    rounded = Decimal(round(scaled)).scaleb(-places)
    return "≈" + format_decimal(rounded)


def fraction_to_decimal(value: Fraction) -> Decimal:
    """Nearest Decimal (28 significant digits) of a Fraction; exact whenever the fraction terminates."""
    return Decimal(value.numerator) / Decimal(value.denominator)
