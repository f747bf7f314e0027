"""Field types and the frozen base model shared by the catalog and the contract terms."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from models.money import Amount

Slug = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
Name = Annotated[str, Field(min_length=1, max_length=256)]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Percent = Annotated[Amount, Field(le=100)]
Fraction = Annotated[Amount, Field(le=1)]
StringMap = dict[Annotated[str, Field(max_length=128)], Annotated[str, Field(max_length=1024)]]

ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "UYI",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)


def minor_units(currency: str) -> int:
    """Digits after the decimal point for a currency's minor unit."""
    return 0 if currency in ZERO_DECIMAL_CURRENCIES else 2


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
