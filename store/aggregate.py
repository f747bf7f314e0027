"""Usage aggregation in the database: one statement per call, exact on both backends.

For each usage product the meter picks the events (`event_type`), the value (`property`), the
line dimensions (`group_by`) and, for sustained use, the resource (`resource_property`). Events
are grouped by segment — the period start, or the latest rate change point at or before the
event — so rating can price each segment at the rate in force. All products are aggregated in a
single UNION ALL statement (SQLite: one per 200 branches); each branch is a GROUP BY served by
the (alias, type, time) index, grouped only by what varies (the meter's dimensions and resource;
no constant keys). On PostgreSQL a branch covers a product's period and also groups by a CASE
giving each event's segment; on SQLite a branch covers one segment's time range (sorting by a
CASE key there costs more than the extra index range scans).

Exactness: sums and maxima read `usage_events.numbers`, the event's numeric properties (JSON
integers and decimal strings; anything else, such as a model name in a summed property or a
boolean, is not a number and is left out) written at ingest by `store.usage.numbers_document`,
so no row is validated or parsed here. PostgreSQL sums and compares them as `numeric`. SQLite
has no exact decimal type: a value is stored as `[whole, fraction]`, integers with value =
whole + fraction / 10**12 and 0 ≤ fraction < 10**12, whose integer sums are exact; SQLite
raises "integer overflow" rather than lose a digit, and then the statement is run again with
each part summed as two halves (which cannot overflow). `max` compares a fixed-width text key.
A group whose events all lack the value has a NULL sum or max and yields no bucket.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from models.db import UtcDateTime
from models.terms import Product
from pricing.types import UsageBucket

_SCALE = 10**12
_MAX_KEY_OFFSET = 10**18  # floor(value) + offset is ≥ 0 and < 2 * 10**18: 19 digits
_MAX_BRANCHES = 200  # per statement; SQLite allows 500 SELECTs in one compound statement


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
    bounds = [start, *cuts, end]  # segment k is [bounds[k], bounds[k + 1])
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    width = max(len(p.meter.group_by) for p in metered if p.meter)
    params: dict[str, Any] = {"aliases": list(aliases)}
    params.update({f"b{k}": bound for k, bound in enumerate(bounds)})
    last = len(bounds) - 1
    if postgres:  # one branch per product, its events' segment a CASE over the cut points
        parts = [(i, _segment_expression(len(cuts)), 0, last) for i in range(len(metered))]
    else:  # one per product and segment: a range per branch sorts far less than a CASE key
        parts = [(i, str(k), k, k + 1) for i in range(len(metered)) for k in range(last)]

    def statements(halves: bool) -> list[Any]:
        branches = [_branch(i, metered[i], width, segment, low, high, params, postgres, halves)
                    for i, segment, low, high in parts]
        return [
            text("\nUNION ALL\n".join(branches[n:n + _MAX_BRANCHES])).bindparams(
                bindparam("aliases", expanding=True),
                *(bindparam(f"b{k}", type_=UtcDateTime()) for k in range(len(bounds))),
            )
            for n in range(0, len(branches), _MAX_BRANCHES)
        ]

    try:
        rows = [row for query in statements(halves=False)
                for row in connection.execute(query, params)]
    except OperationalError as error:  # SQLite's exact integer sum() refuses to overflow
        if postgres or "integer overflow" not in str(error.orig):
            raise
        rows = [row for query in statements(halves=True)
                for row in connection.execute(query, params)]
    buckets = []
    for row in rows:
        product = metered[row[0]]
        assert product.meter is not None
        values = row[3 + width:]
        if product.meter.aggregation in ("sum", "max") and all(v is None for v in values):
            continue  # no event of the group has the value
        dims = _dimensions(product.meter.group_by, row[2:2 + width])
        resource = _scalar(row[2 + width])
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
    whens = " ".join(f"WHEN timestamp >= :b{k} THEN {k}" for k in range(cuts, 0, -1))
    return f"CASE {whens} ELSE 0 END"


def _branch(
    i: int, product: Product, width: int, segment: str, low: int, high: int,
    params: dict[str, Any], postgres: bool, halves: bool,
) -> str:
    """The SELECT of product i's events in [bounds[low], bounds[high]), grouped by segment
    (when `segment` is not a constant), dimensions and resource."""
    meter = product.meter
    assert meter is not None
    params[f"et{i}"] = meter.event_type
    # A dimension is grouped by its JSON text (as text on PostgreSQL: sorting text is far
    # cheaper than sorting jsonb), so "1" and 1 stay apart as the JSON values they are.
    null = "CAST(NULL AS text)" if postgres else "NULL"
    lookup = "CAST(properties -> :{} AS text)" if postgres else "properties -> :{}"
    keys = [] if segment.isdigit() else [2]  # output positions that vary, not constants
    dims = []
    for j in range(width):
        if j < len(meter.group_by):
            params[f"g{i}_{j}"] = meter.group_by[j]
            dims.append(lookup.format(f"g{i}_{j}"))
            keys.append(3 + j)
        else:
            dims.append(null)
    if meter.resource_property:
        params[f"r{i}"] = meter.resource_property
        resource = lookup.format(f"r{i}")
        keys.append(3 + width)
    else:
        resource = null
    if meter.property:
        params[f"p{i}"] = meter.property
    if postgres:
        aggregate, value_filter = _pg_aggregate(i, meter.aggregation)
    else:
        if meter.property:
            params[f"w{i}"], params[f"f{i}"] = _sqlite_paths(meter.property)
        aggregate, value_filter = _sqlite_aggregate(i, meter.aggregation, halves)
    # Without keys an aggregate returns one row even over no events; a group has at least one.
    grouping = f" GROUP BY {', '.join(map(str, keys))}" if keys else " HAVING COUNT(*) > 0"
    return (
        f"SELECT {i} AS product, {segment} AS segment, {', '.join(dims + [resource])}, {aggregate}"
        f" FROM usage_events WHERE customer_alias IN :aliases AND event_type = :et{i}"
        f" AND timestamp >= :b{low} AND timestamp < :b{high}{value_filter}{grouping}"
    )


def _pg_aggregate(i: int, aggregation: str) -> tuple[str, str]:
    if aggregation == "count":
        return "CAST(COUNT(*) AS numeric)", ""
    if aggregation == "unique_count":
        return f"CAST(COUNT(DISTINCT properties -> :p{i}) AS numeric)", \
            f" AND properties -> :p{i} IS NOT NULL"
    function = "SUM" if aggregation == "sum" else "MAX"
    return f"{function}(CAST(numbers -> :p{i} AS numeric))", ""


def sqlite_number_key(name: str) -> str:
    """The key of property `name` in an SQLite `numbers` document. SQLite's JSON paths cannot
    reach a key written with escapes (a quote, a backslash, a control character), so such names,
    and names starting with "~", are stored as "~" + their UTF-8 in hex: one key per name."""
    if name.startswith("~") or json.dumps(name, ensure_ascii=False)[1:-1] != name:
        return "~" + name.encode().hex()
    return name


def _sqlite_paths(name: str) -> tuple[str, str]:
    """JSON paths to the whole and fraction parts of property `name` in `numbers`."""
    label = f'"{sqlite_number_key(name)}"'
    return f"$.{label}[0]", f"$.{label}[1]"


def _sqlite_aggregate(i: int, aggregation: str, halves: bool) -> tuple[str, str]:
    """Five columns: whole_hi, whole_lo, fraction_hi, fraction_lo, max_key, where a sum is
    (whole_hi * 10**9 + whole_lo) + (fraction_hi * 10**6 + fraction_lo) / 10**12."""
    if aggregation == "count":
        return "0, COUNT(*), 0, 0, NULL", ""
    if aggregation == "unique_count":
        return (f"0, COUNT(DISTINCT properties -> :p{i}), 0, 0, NULL",
                f" AND properties -> :p{i} IS NOT NULL")
    whole, fraction = f"json_extract(numbers, :w{i})", f"json_extract(numbers, :f{i})"
    if aggregation == "sum":
        if halves:
            return (f"SUM({whole} / 1000000000), SUM({whole} % 1000000000),"
                    f" SUM({fraction} / 1000000), SUM({fraction} % 1000000), NULL", "")
        return f"NULL, SUM({whole}), NULL, SUM({fraction}), NULL", ""
    key = f"printf('%019d%012d', {whole} + {_MAX_KEY_OFFSET}, {fraction})"
    return f"NULL, NULL, NULL, NULL, MAX(CASE WHEN {whole} IS NOT NULL THEN {key} END)", ""


def _pg_quantity(values: Sequence[Any]) -> Decimal:
    return Decimal(values[0] or 0)


def _sqlite_quantity(aggregation: str, values: Sequence[Any]) -> Decimal:
    whole_hi, whole_lo, fraction_hi, fraction_lo, max_key = values
    if aggregation == "max":
        whole, fraction = int(max_key[:19]) - _MAX_KEY_OFFSET, int(max_key[19:])
        return Decimal(f"{whole * _SCALE + fraction}E-12")
    whole = int(whole_hi or 0) * 1_000_000_000 + int(whole_lo or 0)
    fraction = int(fraction_hi or 0) * 1_000_000 + int(fraction_lo or 0)
    return Decimal(f"{whole * _SCALE + fraction}E-12")  # exact: no context rounding


def _scalar(json_text: str | None) -> str | None:
    if json_text is None:
        return None
    value = json.loads(json_text)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _dimensions(names: Sequence[str], values: Sequence[Any]) -> dict[str, str]:
    dims = {}
    for name, raw in zip(names, values, strict=False):
        value = _scalar(raw)
        if value is not None:
            dims[name] = value
    return dims


def _plain(value: Decimal) -> Decimal:
    """One spelling per number on both databases: no trailing fractional zeros, no exponent."""
    with localcontext() as exact:  # wide enough for any sum: never round a digit away
        exact.prec = 100
        if value == value.to_integral_value():
            return value.quantize(Decimal(1)) + 0  # + 0 also turns -0 into 0
        return value.normalize()
