"""The demo's deal: the InfraX catalog, the two customers' contracts and their generated usage.

Pure data (a seeded RNG makes every run identical); scripts/demo.py sends it to the API.
"""

from __future__ import annotations

import random
from calendar import monthrange
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pricing import add_months

BATCH = 10_000
GRACE = timedelta(hours=24)
CUSTOMER_X, INFRAX = "customer-x", "customer-x-2024"
NIMBUS, NIMBUS_2025, NIMBUS_2026 = "nimbus", "nimbus-2025", "nimbus-2026"
AMENDMENT = "cx-ai-launch"
T2024, T2025, T2026, T2027 = (datetime(y, 1, 1, tzinfo=UTC) for y in (2024, 2025, 2026, 2027))


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


# --- catalog -------------------------------------------------------------------------------

PRODUCTS: list[dict[str, Any]] = [
    {"id": "infrax-storage", "name": "Storage (peak GB per month)", "kind": "usage",
     "tags": ["storage"], "custom_fields": {"erp_sku": "SKU-STO-100"},
     "meter": {"event_type": "infrax.storage", "aggregation": "max", "property": "gb",
               "group_by": ["region"]}},
    {"id": "infrax-analysis", "name": "Analysis jobs", "kind": "usage", "tags": ["analysis"],
     "custom_fields": {"erp_sku": "SKU-ANA-200"},
     "meter": {"event_type": "infrax.analysis_job", "aggregation": "count",
               "group_by": ["job_type"]}},
    {"id": "infrax-tokens", "name": "AI tokens", "kind": "usage", "tags": ["ai"],
     "custom_fields": {"erp_sku": "SKU-AI-300"},
     "meter": {"event_type": "infrax.inference", "aggregation": "sum", "property": "tokens",
               "group_by": ["model"]}},
    {"id": "infrax-support", "name": "Professional support", "kind": "fixed",
     "custom_fields": {"erp_sku": "SKU-SUP-900"}},
    {"id": "infrax-commit", "name": "Prepaid commitment", "kind": "fixed",
     "custom_fields": {"erp_sku": "SKU-COM-000"}},
]

RATE_CARD: dict[str, Any] = {
    "alias": "infrax-list",
    "name": "InfraX list prices",
    "currency": "USD",
    "rates": [
        {"product_id": "infrax-storage", "unit_price": "0.02"},
        {"product_id": "infrax-analysis", "unit_price": "6.00"},
        {"product_id": "infrax-analysis", "dimensions": {"job_type": "gpu"}, "unit_price": "24.00"},
        {"product_id": "infrax-tokens", "unit_price": "0.000012"},
        {"product_id": "infrax-tokens", "dimensions": {"model": "atlas-mini"},
         "unit_price": "0.0000006"},
    ],
}

CUSTOMERS: list[dict[str, Any]] = [
    {"id": CUSTOMER_X, "name": "Customer X", "ingest_aliases": ["customer-x-prod"],
     "custom_fields": {"salesforce_account_id": "sfdc_account_01"}},
    {"id": NIMBUS, "name": "Nimbus Labs", "ingest_aliases": ["nimbus-prod"],
     "custom_fields": {"salesforce_account_id": "sfdc_account_02"}},
]


# --- contracts -----------------------------------------------------------------------------


def access(amount: str, start: datetime, end: datetime) -> dict[str, str]:
    return {"amount": amount, "starting_at": iso(start), "ending_before": iso(end)}


def infrax_contract() -> dict[str, Any]:
    """The seed's deal, with the 2025 upsell (300k commit, analysis ×0.85) folded in."""
    storage_tags = {"type": "multiplier", "product_tags": ["storage"]}
    return {
        "id": INFRAX, "customer_id": CUSTOMER_X, "rate_card_alias": "infrax-list",
        "starting_at": iso(T2024), "ending_before": iso(T2027),
        "billing": {"cycle": "monthly", "payment_terms_days": 30, "usage_grace_period_hours": 24},
        "commits": [
            {"id": "commit-500k", "name": "Three-year ramped commit", "type": "prepaid",
             "product_id": "infrax-commit", "applicable_product_tags": ["storage", "analysis"],
             "access_schedule": [access("50000", T2024, T2025), access("200000", T2025, T2026),
                                 access("250000", T2026, T2027)],
             "invoice_schedule": [{"amount": "250000", "timestamp": iso(T2024)},
                                  {"amount": "250000", "timestamp": iso(T2026)}],
             "rollover_fraction": "0.25"},
            {"id": "commit-300k", "name": "2025 upsell commit", "type": "prepaid",
             "product_id": "infrax-commit", "applicable_product_tags": ["storage", "analysis"],
             "access_schedule": [access("300000", T2025, T2027)],
             "invoice_schedule": [{"amount": "300000", "timestamp": iso(T2025)}],
             "rollover_fraction": "0.25"},
        ],
        "overrides": [
            {"id": "storage-y1", "name": "Storage −10% in 2024", **storage_tags,
             "multiplier": "0.9", "starting_at": iso(T2024), "ending_before": iso(T2025)},
            {"id": "storage-y2", "name": "Storage −20% from 2025", **storage_tags,
             "multiplier": "0.8", "starting_at": iso(T2025)},
            {"id": "analysis-upsell", "name": "Analysis −15% (2025 upsell)", "type": "multiplier",
             "product_tags": ["analysis"], "multiplier": "0.85", "starting_at": iso(T2025)},
        ],
        "scheduled_charges": [
            {"id": "support", "name": "Professional support", "product_id": "infrax-support",
             "schedule": [{"amount": "5000", "timestamp": iso(add_months(T2024, 2))}]},
        ],
        "sla": [
            {"id": "analysis-availability", "name": "Analysis API availability",
             "product_tags": ["analysis"],
             "credit_tiers": [{"below": "99.9", "percent": "10"},
                              {"below": "99.0", "percent": "25"},
                              {"below": "95.0", "percent": "100"}]},
        ],
        "alerts": [
            {"id": "commit-low", "name": "Less than 15,000 of commit left",
             "type": "balance_below", "threshold": "15000"},
        ],
        "custom_fields": {"sfdc_opportunity_id": "opp_id_01"},
    }


def nimbus_contract() -> dict[str, Any]:
    """One year with a pre-agreed renewal: the unused commit rolls over (up to 25%)."""
    return {
        "id": NIMBUS_2025, "customer_id": NIMBUS, "rate_card_alias": "infrax-list",
        "starting_at": iso(T2025), "ending_before": iso(T2026),
        "commits": [
            {"id": "nimbus-commit", "name": "2025 prepaid commit", "type": "prepaid",
             "product_id": "infrax-commit", "access_schedule": [access("60000", T2025, T2026)],
             "invoice_schedule": [{"amount": "60000", "timestamp": iso(T2025)}],
             "rollover_fraction": "0.25"},
        ],
        "renewal": {
            "id": "renewal-2026", "contract_id": NIMBUS_2026, "ending_before": iso(T2027),
            "commits": [
                {"id": "nimbus-commit-2026", "name": "2026 prepaid commit", "type": "prepaid",
                 "product_id": "infrax-commit",
                 "access_schedule": [access("48000", T2026, T2027)],
                 "invoice_schedule": [{"amount": "48000", "timestamp": iso(T2026)}],
                 "rollover_fraction": "0.25"},
            ],
        },
        "custom_fields": {"sfdc_opportunity_id": "opp_id_02"},
    }


def month_start(now: datetime) -> datetime:
    return datetime(now.year, now.month, 1, tzinfo=UTC)


def live_amendment(now: datetime) -> dict[str, Any]:
    """Effective in the open period: 10% off AI tokens and a spend alert, from this month."""
    return {
        "id": AMENDMENT,
        "effective_at": iso(month_start(now)),
        "discounts": [{"id": "ai-launch-10", "name": "AI launch −10%", "type": "percent",
                       "percent": "10", "product_tags": ["ai"]}],
        "alerts": [{"id": "spend-watch", "name": "Monthly spend above 25,000",
                    "type": "spend_above", "threshold": "25000"}],
    }


# --- usage ---------------------------------------------------------------------------------


def _event(tx: str, alias: str, kind: str, ts: datetime, props: dict[str, Any]) -> dict[str, Any]:
    return {"transaction_id": tx, "customer_id": alias, "event_type": f"infrax.{kind}",
            "timestamp": iso(ts), "properties": props}


@dataclass(frozen=True)
class Profile:
    """How one customer uses InfraX: volumes in the first month and monthly growth."""

    tag: str
    alias: str
    start: datetime
    storage_gb: int
    jobs: int
    growth: float
    tokens_from: datetime | None = None


PROFILES = (
    Profile("cx", "customer-x-prod", T2024, 50_000, 150, 1.09, tokens_from=datetime(
        2025, 6, 1, tzinfo=UTC)),
    Profile("nimbus", "nimbus-prod", T2025, 120_000, 60, 1.02),
)


def month_usage(p: Profile, month: datetime, k: int) -> Iterator[dict[str, Any]]:
    """Every event of one month. Values depend only on (customer, month), never on today."""
    rng = random.Random(f"{p.tag}:{month:%Y-%m}")
    days = monthrange(month.year, month.month)[1]
    scale = p.growth**k
    for region, share in (("us-east", 0.65), ("eu-west", 0.35)):
        for d in range(days):
            gb = int(p.storage_gb * scale * share * (1 + 0.04 * d / days) * rng.uniform(0.98, 1.02))
            ts = month + timedelta(days=d, hours=6)
            yield _event(f"{p.tag}-storage-{region}-{ts:%Y%m%d}", p.alias, "storage", ts,
                         {"region": region, "gb": gb})
    for j in range(int(p.jobs * scale * rng.uniform(0.9, 1.1))):
        ts = month + timedelta(seconds=rng.randrange(days * 86_400))
        job_type = "gpu" if rng.random() < 0.15 else "batch"
        yield _event(f"{p.tag}-job-{month:%Y%m}-{j}", p.alias, "analysis_job", ts,
                     {"job_type": job_type, "job_id": f"{p.tag}-{month:%Y%m}-{j}"})
    if p.tokens_from is not None and month >= p.tokens_from:
        ramp = 1.09 ** ((month.year - p.tokens_from.year) * 12 + month.month - p.tokens_from.month)
        for d in range(days):
            ts = month + timedelta(days=d, hours=18)
            for model, daily in (("atlas-mini", 8_000_000), ("atlas-pro", 1_500_000)):
                tokens = int(daily * ramp * rng.uniform(0.7, 1.3))
                yield _event(f"{p.tag}-tokens-{model}-{ts:%Y%m%d}", p.alias, "inference", ts,
                             {"model": model, "tokens": tokens})


def generated_usage(now: datetime) -> list[dict[str, Any]]:
    """All customers' events from their start up to now (nothing in the future)."""
    events: list[dict[str, Any]] = []
    for p in PROFILES:
        k, month = 0, p.start
        while month <= now and month < T2027:
            events += (e for e in month_usage(p, month, k) if e["timestamp"] <= iso(now))
            k, month = k + 1, add_months(p.start, k + 1)
    return events
