"""The pure billing engine: frozen value objects in, value objects out; no IO, no clock."""

from pricing.invoice import price_usage_invoice
from pricing.periods import add_months, billing_periods
from pricing.rates import PricingError, rate_change_points
from pricing.rating import correction_lines, rate_usage
from pricing.rollover import RolloverResult, rollover
from pricing.rounding import round_money
from pricing.scheduled import price_scheduled_invoice, scheduled_invoice_times, true_up_invoice
from pricing.segments import expand_segments, expiry_entries, grant_entries
from pricing.sla import availability, sla_credit_percent

__all__ = [
    "PricingError",
    "RolloverResult",
    "add_months",
    "availability",
    "billing_periods",
    "correction_lines",
    "expand_segments",
    "expiry_entries",
    "grant_entries",
    "price_scheduled_invoice",
    "price_usage_invoice",
    "rate_change_points",
    "rate_usage",
    "round_money",
    "rollover",
    "scheduled_invoice_times",
    "sla_credit_percent",
    "true_up_invoice",
]
