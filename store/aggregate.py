"""Usage aggregation in the database: one statement per call, exact on both backends.

For each usage product the meter picks the events (`event_type`), the value (`property`), the
line dimensions (`group_by`) and, for sustained use, the resource (`resource_property`). Events
are grouped by segment — the period start, or the latest rate change point at or before the
event — so rating can price each segment at the rate in force. All products are aggregated in a
single UNION ALL statement; each branch is a GROUP BY served by the (alias, type, time) index.

Exactness: PostgreSQL sums and compares `numeric`. SQLite has no exact decimal type, so a value
is split into its integer part (itself summed as two halves so the sums cannot overflow) and its
12 fractional digits (two 6-digit halves); `max` compares a fixed-width text key. Property values
are JSON integers or decimal strings (the ingest API guarantees ≤ 18 integer and ≤ 12
fractional digits); anything else (a model name in a summed property, a boolean) is not a
number and is left out of sum and max.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, text
from sqlmodel import Session

from models.db import UtcDateTime
from models.terms import Product
from pricing.types import UsageBucket

_AGG_COLUMNS = 5  # SQLite: int_hi, int_lo, frac_hi, frac_lo, max_key; PostgreSQL uses the first

_PG_NUMBER = (
    "CASE WHEN jsonb_typeof(properties -> :{p}) = 'number'"
    " THEN CAST(properties ->> :{p} AS numeric)"
    " WHEN (properties ->> :{p}) ~ '^-?[0-9]+(\\.[0-9]+)?$'"
    " THEN CAST(properties ->> :{p} AS numeric) END"
)

# A text value is a decimal string when it is -?digits(.digits)? — spelled with GLOB.
_SQLITE_DECIMAL_TEXT = (
    "(typeof(v) = 'text' AND v GLOB '*[0-9]' AND v NOT GLOB '*[^0-9.-]*' AND v NOT GLOB '?*-*'"
    " AND v NOT GLOB '*.*.*' AND v NOT GLOB '.*' AND v NOT GLOB '-.*')"
)
_SQLITE_INT = (
    f"CASE WHEN typeof(v) = 'integer' THEN v"
    f" WHEN {_SQLITE_DECIMAL_TEXT} THEN CAST(v AS INTEGER) END"
)
_SQLITE_FRAC12 = (
    f"CASE WHEN {_SQLITE_DECIMAL_TEXT} AND instr(v, '.') > 0"
    " THEN substr(substr(v, instr(v, '.') + 1) || '000000000000', 1, 12) END"
)
_SQLITE_SIGN = "(CASE WHEN typeof(v) = 'text' AND substr(v, 1, 1) = '-' THEN -1 ELSE 1 END)"


def aggregate_usage(
    session: Session,
    *,
    aliases: Sequence[str],
    products: Sequence[Product],
    start: datetime,
    end: datetime,
    cut_points: Sequence[datetime],
) -> list[UsageBucket]:
    """The meters' values over the aliases' events in [start, end), per (product, dimensions,
    segment, resource), computed by the database."""
    metered = [p for p in products if p.kind == "usage" and p.meter is not None]
    if not aliases or not metered:
        return []
    cuts = sorted({c for c in cut_points if start < c < end})
    segment_starts = [start, *cuts]
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    width = max(len(p.meter.group_by) for p in metered if p.meter)
    params: dict[str, Any] = {"aliases": list(aliases), "start": start, "end": end}
    params.update({f"cut{k}": cut for k, cut in enumerate(cuts)})
    segment = _segment_expression(len(cuts))
    branches = [
        _branch(i, product, width, segment, params, postgres) for i, product in enumerate(metered)
    ]
    statement = text("\nUNION ALL\n".join(branches)).bindparams(
        bindparam("aliases", expanding=True),
        bindparam("start", type_=UtcDateTime()),
        bindparam("end", type_=UtcDateTime()),
        *(bindparam(f"cut{k}", type_=UtcDateTime()) for k in range(len(cuts))),
    )
    buckets = []
    for row in connection.execute(statement, params):
        product = metered[row[0]]
        assert product.meter is not None
        dims = _dimensions(product.meter.group_by, row[2:2 + width], postgres)
        resource = _scalar(row[2 + width], postgres)
        values = row[3 + width:]
        quantity = _pg_quantity(values) if postgres else _sqlite_quantity(
            product.meter.aggregation, values
        )
        buckets.append(UsageBucket(
            product_id=product.id, dimensions=dims, segment_start=segment_starts[row[1]],
            quantity=_plain(quantity), resource_id=resource,
        ))
    buckets.sort(key=lambda b: (b.product_id, sorted(b.dimensions.items()), b.segment_start,
                                b.resource_id or ""))
    return buckets


def _segment_expression(cuts: int) -> str:
    if not cuts:
        return "0"
    whens = " ".join(f"WHEN timestamp >= :cut{k} THEN {k + 1}" for k in reversed(range(cuts)))
    return f"CASE {whens} ELSE 0 END"


def _branch(
    i: int, product: Product, width: int, segment: str, params: dict[str, Any], postgres: bool
) -> str:
    meter = product.meter
    assert meter is not None
    params[f"et{i}"] = meter.event_type
    null = "CAST(NULL AS jsonb)" if postgres else "NULL"
    dims = []
    for j in range(width):
        if j < len(meter.group_by):
            params[f"g{i}_{j}"] = meter.group_by[j]
            dims.append(f"properties -> :g{i}_{j}")
        else:
            dims.append(null)
    if meter.resource_property:
        params[f"r{i}"] = meter.resource_property
        resource = f"properties -> :r{i}"
    else:
        resource = null
    if meter.property:
        params[f"p{i}"] = meter.property
    aggregated = _pg_aggregate if postgres else _sqlite_aggregate
    aggregate, value_filter = aggregated(i, meter.aggregation)
    keys = ", ".join(str(n) for n in range(2, 4 + width))
    source = "usage_events"
    if not postgres and meter.property:
        # Name the value once; SQLite's JSON cache makes the repeated uses cheap.
        source = f"(SELECT *, properties ->> :p{i} AS v FROM usage_events)"
    return (
        f"SELECT {i} AS product, {segment} AS segment, {', '.join(dims + [resource])}, {aggregate}"
        f" FROM {source} WHERE customer_alias IN :aliases AND event_type = :et{i}"
        f" AND timestamp >= :start AND timestamp < :end{value_filter}"
        f" GROUP BY {keys}"
    )


def _pg_aggregate(i: int, aggregation: str) -> tuple[str, str]:
    number = _PG_NUMBER.format(p=f"p{i}")
    if aggregation == "count":
        return "CAST(COUNT(*) AS numeric)", ""
    if aggregation == "unique_count":
        return f"CAST(COUNT(DISTINCT properties -> :p{i}) AS numeric)", \
            f" AND properties -> :p{i} IS NOT NULL"
    function = "SUM" if aggregation == "sum" else "MAX"
    return f"{function}({number})", f" AND ({number}) IS NOT NULL"


def _sqlite_aggregate(i: int, aggregation: str) -> tuple[str, str]:
    if aggregation == "count":
        return "0, COUNT(*), 0, 0, NULL", ""
    if aggregation == "unique_count":
        return (f"0, COUNT(DISTINCT properties -> :p{i}), 0, 0, NULL",
                f" AND properties -> :p{i} IS NOT NULL")
    integer, frac, sign = _SQLITE_INT, _SQLITE_FRAC12, _SQLITE_SIGN
    is_number = f" AND ({integer}) IS NOT NULL"
    if aggregation == "sum":
        return (
            f"SUM(({integer}) / 1000000000), SUM(({integer}) % 1000000000),"
            f" SUM({sign} * CAST(substr({frac}, 1, 6) AS INTEGER)),"
            f" SUM({sign} * CAST(substr({frac}, 7, 6) AS INTEGER)), NULL",
            is_number,
        )
    whole = f"abs({integer})"
    fraction = f"COALESCE(CAST({frac} AS INTEGER), 0)"
    key = (
        f"CASE WHEN {sign} < 0 OR ({integer}) < 0 THEN"
        f" '0' || printf('%018d%012d', 999999999999999999 - {whole}, 999999999999 - {fraction})"
        f" ELSE '1' || printf('%018d%012d', {whole}, {fraction}) END"
    )
    return f"0, 0, 0, 0, MAX({key})", is_number


def _pg_quantity(values: Sequence[Any]) -> Decimal:
    return Decimal(values[0] or 0)


def _sqlite_quantity(aggregation: str, values: Sequence[Any]) -> Decimal:
    int_hi, int_lo, frac_hi, frac_lo, max_key = values
    if aggregation == "max":
        return _decode_max_key(max_key)
    return (
        Decimal(int_hi or 0) * 1_000_000_000 + Decimal(int_lo or 0)
        + Decimal(frac_hi or 0).scaleb(-6) + Decimal(frac_lo or 0).scaleb(-12)
    )


def _decode_max_key(key: str) -> Decimal:
    whole, fraction = int(key[1:19]), int(key[19:31])
    if key[0] == "0":  # negative: digits were nines-complemented so larger magnitudes sort lower
        whole, fraction = 999_999_999_999_999_999 - whole, 999_999_999_999 - fraction
        return -(Decimal(whole) + Decimal(fraction).scaleb(-12))
    return Decimal(whole) + Decimal(fraction).scaleb(-12)


def _scalar(value: Any, postgres: bool) -> str | None:
    if value is None:
        return None
    if not postgres:
        value = json.loads(value)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _dimensions(names: Sequence[str], values: Sequence[Any], postgres: bool) -> dict[str, str]:
    dims = {}
    for name, raw in zip(names, values, strict=False):
        value = _scalar(raw, postgres)
        if value is not None:
            dims[name] = value
    return dims


def _plain(value: Decimal) -> Decimal:
    """One spelling per number on both databases: no trailing fractional zeros, no exponent."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1)) + 0  # + 0 also turns -0 into 0
    return value.normalize()
