"""Money rounding and the exact decimal context every pricing computation runs in."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from functools import wraps
from typing import ParamSpec, TypeVar

from models.money import format_decimal
from models.terms import minor_units

P = ParamSpec("P")
R = TypeVar("R")

# 28 digits (the default) silently rounds a 1e9 quantity × a 12-digit price; 80 keeps every
# product and sum the engine makes exact, so rounding happens only where SPEC says.
EXACT = Context(prec=80, rounding=ROUND_HALF_UP)
_QUANTA = {0: Decimal("1"), 2: Decimal("0.01"), 3: Decimal("0.001")}


def quantum(currency: str) -> Decimal:
    """The currency's minor unit as a Decimal exponent template (0.01, 1)."""
    digits = minor_units(currency)
    return _QUANTA.get(digits) or Decimal(1).scaleb(-digits)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, half up."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP, context=EXACT)


def exact(func: Callable[P, R]) -> Callable[P, R]:
    """Run a public pricing function inside the exact decimal context."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext(EXACT):
            return func(*args, **kwargs)

    return wrapper


def fmt(value: Decimal) -> str:
    """A decimal in plain notation for explanations and details."""
    return format_decimal(value)
