"""SLA availability from incidents and the credits it earns (SPEC 11)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, localcontext
from fractions import Fraction

from models.terms import ContractTerms, Product, Sla, SlaTier
from pricing.periods import microseconds
from pricing.rates import targets_product
from pricing.rounding import EXACT, exact, round_money
from pricing.types import Incident, PastPeriod, Period, Segment, SlaGrant

ZERO = Decimal(0)


def _downtime(incidents: Sequence[Incident], start: datetime, end: datetime) -> int:
    """Microseconds of the union of incident intervals clipped to [start, end)."""
    spans = sorted(
        (max(i.started_at, start), min(i.resolved_at or end, end)) for i in incidents
    )
    down, cursor = 0, start
    for lo, hi in spans:
        lo = max(lo, cursor)
        if hi > lo:
            down += microseconds(lo, hi)
            cursor = hi
    return down


def _availability(incidents: Sequence[Incident], start: datetime, end: datetime) -> Fraction:
    return 100 * (1 - Fraction(_downtime(incidents, start, end), microseconds(start, end)))


def availability(incidents: Sequence[Incident], start: datetime, end: datetime) -> Decimal:
    """100 × (1 − downtime ÷ length) over [start, end); unresolved incidents are down until end."""
    exact_value = _availability(incidents, start, end)
    with localcontext(EXACT):
        # 80 digits: far finer than any gap between a non-terminating value and a tier bound
        return Decimal(exact_value.numerator) / Decimal(exact_value.denominator)


def _evidence(value: Fraction) -> Decimal:
    """Availability as shown in the explanation: 10 decimals, rounded down so it never reads
    as better than it was (the tier was chosen on the exact value)."""
    shown = Decimal(value.numerator) / Decimal(value.denominator)
    return shown.quantize(Decimal("1e-10"), rounding=ROUND_DOWN)


def sla_credit_percent(tiers: Sequence[SlaTier], availability: Decimal) -> Decimal:
    """The largest tier percent whose `below` is above the availability; 0 when none is."""
    value = Fraction(availability)
    hits = [t.percent for t in tiers if Fraction(t.below) > value]
    return max(hits, default=ZERO)


def _percent_exact(tiers: Sequence[SlaTier], value: Fraction) -> Decimal:
    return max((t.percent for t in tiers if Fraction(t.below) > value), default=ZERO)


def sla_products(sla: Sla, products: Sequence[Product]) -> set[str]:
    """Product ids an SLA covers; an SLA naming none covers every usage product."""
    if not sla.product_ids and not sla.product_tags:
        return {p.id for p in products if p.kind == "usage"}
    return {p.id for p in products if targets_product(sla.product_ids, sla.product_tags, p)}


@exact
def sla_grants(
    terms: ContractTerms, products: Sequence[Product], currency: str, period: Period,
    net_by_product: Mapping[str, Decimal], incidents: Sequence[Incident],
    past_periods: Sequence[PastPeriod],
) -> tuple[SlaGrant, ...]:
    """Credits earned this period, and top-ups for finalized periods hit by late incidents."""
    grants: list[SlaGrant] = []
    for sla in sorted(terms.sla, key=lambda s: s.id):
        ended = getattr(sla, "ending_before", None)
        mine = sorted((i for i in incidents if i.sla_id == sla.id), key=lambda i: i.incident_id)
        covered = sla_products(sla, products)
        for past in sorted(past_periods, key=lambda p: p.period.index):
            if ended is not None and past.period.start >= ended:
                continue
            already = past.sla_credited.get(sla.id, ZERO)
            grant = _grant(sla, past.period, past.net_by_product, covered, mine, currency,
                           period.start, terms.ending_before, already)
            if grant is not None:
                grants.append(grant)
        if ended is None or period.start < ended:
            grant = _grant(sla, period, net_by_product, covered, mine, currency,
                           period.start, terms.ending_before, ZERO)
            if grant is not None:
                grants.append(grant)
    return tuple(grants)


def _grant(
    sla: Sla, period: Period, nets: Mapping[str, Decimal], covered: set[str],
    incidents: Sequence[Incident], currency: str, grant_start: datetime, grant_end: datetime,
    already: Decimal,
) -> SlaGrant | None:
    hits = [i for i in incidents if i.started_at < period.end
            and (i.resolved_at is None or i.resolved_at > period.start)]
    if not hits:
        return None
    value = _availability(hits, period.start, period.end)
    percent = _percent_exact(sla.credit_tiers, value)
    base = sum((max(v, ZERO) for k, v in sorted(nets.items()) if k in covered), ZERO)
    amount = round_money(base * percent / 100, currency) - already
    if amount <= 0:
        return None
    late = already > 0 or grant_start != period.start
    seg_id = f"sla:{sla.id}:{period.index}" + (f":late:{amount + already}" if late else "")
    segment = Segment(
        id=seg_id, source_id=sla.id, source_kind="credit", reason="sla",
        name=f"SLA credit {sla.name or sla.id}, period {period.index}",
        starting_at=grant_start, ending_before=grant_end, amount=amount,
    )
    return SlaGrant(
        sla_id=sla.id, period=period, availability=_evidence(value),
        downtime_seconds=Decimal(_downtime(hits, period.start, period.end)) / 1_000_000,
        percent=percent, amount=amount, incident_ids=tuple(i.incident_id for i in hits),
        segment=segment,
    )
