"""Decimal and timestamp field types shared by every model.

Amounts cross JSON as decimal strings; JSON integers are accepted on input. A JSON float with a
fractional part, NaN, Infinity or more than 12 fractional digits is refused, because a float has
already lost the exact value the caller meant.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer

MAX_FRACTION_DIGITS = 12
_DECIMAL_TEXT = re.compile(r"^-?\d+(\.\d+)?$")


def parse_decimal(value: Any) -> Decimal:
    """Turn a JSON value into an exact Decimal, or raise ValueError saying why not."""
    if isinstance(value, bool):
        raise ValueError("expected a decimal string, got a boolean")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise ValueError("amounts are decimal strings such as \"0.0021\", not JSON floats")
        return Decimal(int(value))
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, str):
        text = value.strip()
        if not _DECIMAL_TEXT.match(text):
            raise ValueError(f"{value!r} is not a decimal string such as \"125000.00\"")
        try:
            result = Decimal(text)
        except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
            raise ValueError(f"{value!r} is not a decimal") from exc
    else:
        raise ValueError("expected a decimal string")
    if not result.is_finite():
        raise ValueError("NaN and Infinity are not amounts")
    exponent = result.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_FRACTION_DIGITS:
        raise ValueError(f"at most {MAX_FRACTION_DIGITS} fractional digits")
    return result


def format_decimal(value: Decimal) -> str:
    """Plain notation, never exponent notation: Decimal('1E+2') is written '100'."""
    return format(value, "f")


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps need a UTC offset (RFC 3339), e.g. 2025-01-01T00:00:00Z")
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+01:00 has no UTC equivalent
        raise ValueError("timestamp out of range") from exc


Dec = Annotated[
    Decimal,
    BeforeValidator(parse_decimal),
    PlainSerializer(format_decimal, return_type=str, when_used="json"),
]
"""Any exact decimal (quantities, corrections, deltas)."""

Amount = Annotated[Dec, AfterValidator(_non_negative)]
"""A non-negative exact decimal: prices, amounts, thresholds, multipliers."""

UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
"""An RFC 3339 timestamp with an offset, normalised to UTC."""
