"""JSON views of contracts, balances and draft invoices. Amounts are decimal strings."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from activities.context import CONSUMING
from models.messages import ContractDetails
from models.money import format_decimal
from models.terms import ContractTerms
from pricing import expand_segments, round_money
from pricing.types import PricedInvoice
from store import ledger as ledger_store

MONEY_FIELDS = ("usage", "corrections", "discounts", "commit_applied", "tax", "credits_applied",
                "total")
LINE_MONEY_FIELDS = ("amount", "discount", "commit_applied", "tax", "credits_applied", "total")


def in_minor_units(item: Any, fields: tuple[str, ...], currency: str) -> dict[str, Decimal]:
    """Amounts written to the currency's minor unit ("0.00", not "0"). They are already rounded
    there, so this changes only how they are written."""
    return {f: round_money(getattr(item, f), currency) for f in fields}


LEDGER_FIELDS = {
    "drawdown": "drawn",
    "expiry": "expired",
    "rollover": "rolled_over",
    "true_up": "trued_up",
}


def contract_view(
    row: Any, details: ContractDetails | None, balances: list[dict[str, Any]]
) -> dict[str, Any]:
    terms = ContractTerms.model_validate(row.terms)
    remaining = sum((Decimal(b["remaining"]) for b in balances), Decimal(0))
    view: dict[str, Any] = {
        "id": row.id,
        "workflow_id": row.workflow_id,
        "customer_id": row.customer_id,
        "status": details.status if details else row.status,
        "renews": row.renews,
        "renewed_by": row.renewed_by,
        "terms": terms.model_dump(mode="json"),
        "current_period": None,
        "closed_periods": None,
        "last_invoice_id": None,
        "amendments": [],
        "balances": {"remaining": format_decimal(remaining), "segments": len(balances)},
    }
    if details is not None:
        view.update(
            current_period={
                "start": details.current_period_start.isoformat()
                if details.current_period_start
                else None,
                "end": details.current_period_end.isoformat()
                if details.current_period_end
                else None,
            },
            closed_periods=details.closed_periods,
            last_invoice_id=details.last_invoice_id,
            amendments=details.amendments,
            renewed_by=details.renewed_by or row.renewed_by,
        )
    return view


def balances_view(session: Session, row: Any) -> list[dict[str, Any]]:
    """Every commit and credit segment: granted, what the ledger took, remaining, the entries."""
    terms = ContractTerms.model_validate(row.terms)
    entries = ledger_store.entries_for(session, row.id)
    by_segment: dict[str, list[Any]] = defaultdict(list)
    for entry in entries:
        by_segment[entry.segment_id].append(entry)
    segments = {s.id: s for s in expand_segments(terms)}
    currency = terms.currency or "USD"

    def money(value: Decimal) -> str:
        return format_decimal(round_money(value, currency))

    views = []
    for segment_id in sorted({*segments, *by_segment}):
        segment = segments.get(segment_id)
        seg_entries = by_segment.get(segment_id, [])
        granted = (
            segment.amount
            if segment is not None
            else sum((e.amount for e in seg_entries if e.kind == "grant"), Decimal(0))
        )
        sums = {
            k: sum((e.amount for e in seg_entries if e.kind == k), Decimal(0)) for k in CONSUMING
        }
        view: dict[str, Any] = {
            "segment_id": segment_id,
            "source_id": segment.source_id if segment else seg_entries[0].source_id,
            "kind": segment.source_kind if segment else "credit",
            "commit_type": segment.commit_type if segment else None,
            "reason": segment.reason if segment else "sla",
            "starting_at": segment.starting_at.isoformat() if segment else None,
            "ending_before": segment.ending_before.isoformat() if segment else None,
            "granted": money(granted),
            **{LEDGER_FIELDS[k]: money(v) for k, v in sums.items()},
            "remaining": money(granted - sum(sums.values(), Decimal(0))),
            "entries": [
                {
                    "key": e.key,
                    "kind": e.kind,
                    "amount": format_decimal(e.amount),
                    "at": e.at.isoformat(),
                    "invoice_id": e.invoice_id,
                    "details": e.details,
                }
                for e in seg_entries
            ],
        }
        views.append(view)
    return views


def invoice_view(priced: PricedInvoice, *, contract_id: str, customer_id: str) -> dict[str, Any]:
    """A priced invoice that is not stored (the open period's draft), shaped like a stored one."""
    cur = priced.currency
    shown = priced.model_copy(update={
        "totals": priced.totals.model_copy(
            update=in_minor_units(priced.totals, MONEY_FIELDS, cur)),
        "lines": tuple(line.model_copy(update=in_minor_units(line, LINE_MONEY_FIELDS, cur))
                       for line in priced.lines),
    })
    body = shown.model_dump(mode="json", exclude={"ledger", "discount_first_period", "sla_grants"})
    lines = [{"position": i, **line} for i, line in enumerate(body.pop("lines"))]
    return {
        "id": None,
        "contract_id": contract_id,
        "customer_id": customer_id,
        "status": "draft",
        "finalized_at": None,
        **body,
        **body["totals"],
        "lines": lines,
    }
