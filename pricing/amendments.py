"""Applying amendments and renewals to contract terms: pure, so the workflow stays deterministic
and the contract projection can be brought up to date from the amendment alone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models.terms import (
    LIST_FIELDS,
    AccessItem,
    Amendment,
    ContractTerms,
    Credit,
    RenewalTerms,
)

ENDABLE = ("overrides", "discounts", "credits", "alerts", "sla")


class AmendmentConflict(ValueError):
    """The amendment would change a finalized period (HTTP 409)."""


class AmendmentInvalid(ValueError):
    """The amendment does not fit the contract (HTTP 422)."""


def check_amendment(terms: ContractTerms, amendment: Amendment, locked_until: datetime) -> None:
    """Raise AmendmentInvalid or AmendmentConflict; `locked_until` ends the last closed period."""
    existing = set(terms.element_ids())
    clashes = sorted(existing.intersection(amendment.element_ids()))
    if clashes:
        raise AmendmentInvalid(f"element ids already in the contract: {clashes}")
    endable = {e.id: field for field in ENDABLE for e in getattr(terms, field)}
    unknown = sorted(item.id for item in amendment.end if item.id not in endable)
    if unknown:
        raise AmendmentInvalid(
            f"end names ids that are no override, discount, credit, alert or sla: {unknown}"
        )
    if not terms.starting_at <= amendment.effective_at < terms.ending_before:
        raise AmendmentInvalid("effective_at must lie within the contract's term")
    earliest = min(_instants(amendment), default=amendment.effective_at)
    if earliest < locked_until:
        raise AmendmentConflict(
            f"the amendment reaches back to {earliest.isoformat()}, but periods up to "
            f"{locked_until.isoformat()} are finalized; you can't change what was already invoiced"
        )


def _instants(amendment: Amendment) -> list[datetime]:
    """Every instant from which the amendment changes billing."""
    instants = [amendment.effective_at, *(item.at for item in amendment.end)]
    starts = [o.starting_at for o in amendment.overrides]
    starts += [d.starting_at for d in amendment.discounts]
    instants += [start for start in starts if start is not None]
    for commit in amendment.commits:
        instants += [item.starting_at for item in commit.access_schedule]
        instants += [item.timestamp for item in commit.invoice_schedule or ()]
    for credit in amendment.credits:
        instants += [item.starting_at for item in credit.access_schedule]
        if credit.recurrence is not None:
            instants.append(credit.recurrence.starting_at)
    for charge in amendment.scheduled_charges:
        instants += [item.timestamp for item in charge.schedule]
    return instants


def apply_amendment(terms: ContractTerms, amendment: Amendment) -> ContractTerms:
    """The terms with the amendment's additions appended and its `end` items cut short.
    Applying it twice gives the same terms: additions already present are not added again."""
    data = terms.model_dump()
    effective = amendment.effective_at
    present = set(terms.element_ids())
    for field in LIST_FIELDS:
        added = [e.model_dump() for e in getattr(amendment, field) if e.id not in present]
        if field in ("overrides", "discounts"):
            for element in added:
                element["starting_at"] = element["starting_at"] or effective
        data[field] = [*data[field], *added]
    ends = {item.id: item.at for item in amendment.end}
    for field in ENDABLE:
        data[field] = [
            ended
            for element in data[field]
            if (ended := _end_element(field, element, ends.get(element["id"]))) is not None
        ]
    return ContractTerms.model_validate(data)


def _end_element(field: str, element: dict[str, Any], at: datetime | None) -> dict[str, Any] | None:
    if at is None:
        return element
    if field != "credits":
        current = element.get("ending_before")
        element["ending_before"] = at if current is None else min(current, at)
        starting_at = element.get("starting_at")
        return None if starting_at is not None and starting_at >= at else element
    return _end_credit(element, at)


def _end_credit(element: dict[str, Any], at: datetime) -> dict[str, Any] | None:
    """Access from `at` on is withdrawn: later items go, a spanning item is cut at `at`."""
    credit = Credit.model_validate(element)
    items = [
        AccessItem(
            amount=i.amount, starting_at=i.starting_at, ending_before=min(i.ending_before, at)
        )
        for i in credit.access_schedule
        if i.starting_at < at
    ]
    recurrence = credit.recurrence
    if recurrence is not None:
        recurrence = (
            None
            if recurrence.starting_at >= at
            else recurrence.model_copy(update={"ending_before": min(recurrence.ending_before, at)})
        )
    if not items and recurrence is None:
        return None
    return credit.model_copy(
        update={"access_schedule": tuple(items), "recurrence": recurrence}
    ).model_dump()


def successor_terms(predecessor: ContractTerms, renewal: RenewalTerms) -> ContractTerms:
    """The renewal's contract: it starts where the predecessor ends, on the same customer."""
    data: dict[str, Any] = {
        "id": renewal.contract_id or f"{predecessor.id}-{renewal.id}",
        "customer_id": predecessor.customer_id,
        "rate_card_alias": renewal.rate_card_alias or predecessor.rate_card_alias,
        "currency": predecessor.currency,
        "starting_at": predecessor.ending_before,
        "ending_before": renewal.ending_before,
        "billing": (renewal.billing or predecessor.billing).model_dump(),
        "multiplier_prioritization": (
            renewal.multiplier_prioritization or predecessor.multiplier_prioritization
        ),
        "sustained_use": (
            predecessor.sustained_use if renewal.sustained_use is None else renewal.sustained_use
        ),
        "custom_fields": renewal.custom_fields or predecessor.custom_fields,
        "renews": predecessor.id,
    }
    for field in LIST_FIELDS:
        data[field] = [e.model_dump() for e in getattr(renewal, field)]
    return ContractTerms.model_validate(data)
