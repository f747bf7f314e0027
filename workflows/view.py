"""What operators see of a contract: the `details` query and the Temporal UI's current details."""

from __future__ import annotations

from models.messages import ContractDetails
from models.terms import ContractTerms
from workflows.plan import contract_periods
from workflows.state import ContractState


def contract_details(terms: ContractTerms, state: ContractState) -> ContractDetails:
    periods = contract_periods(terms)
    current = periods[min(state.closed_periods, len(periods) - 1)]
    return ContractDetails(
        contract_id=terms.id,
        status=state.status,
        current_period_start=current.start,
        current_period_end=current.end,
        closed_periods=state.closed_periods,
        balance=state.balance,
        last_invoice_id=state.last_invoice_id,
        last_invoice_total=state.last_invoice_total,
        renewed_by=state.renewal.successor_contract_id if state.renewal else None,
        renews=terms.renews,
        open_incidents=len(state.open_incidents),
        amendments=sorted(state.amendments),
    )


def current_details(terms: ContractTerms, state: ContractState) -> str:
    """The markdown summary shown on the workflow's page in the Temporal UI."""
    d = contract_details(terms, state)
    last = f"{d.last_invoice_id} ({d.last_invoice_total})" if d.last_invoice_id else "none yet"
    lines = [
        f"**{terms.id}** for customer `{terms.customer_id}` — status **{d.status}**",
        f"- term: {terms.starting_at.date()} → {terms.ending_before.date()}",
        f"- open period: {d.current_period_start} → {d.current_period_end}",
        f"- periods closed: {d.closed_periods}; invoiced so far: {state.invoiced_total}",
        f"- commit + credit balance after the last close: {d.balance}",
        f"- last invoice: {last}",
        f"- amendments: {len(state.amendments)}",
        f"- open SLO incidents: {len(state.open_incidents)}",
    ]
    if d.renewed_by:
        lines.append(f"- renewed by: {d.renewed_by}")
    if state.awaiting_rollover:
        lines.append(f"- waiting for the rollover from {terms.renews}")
    return "\n".join(lines)
