"""Activities that write invoices and ledger entries. Each is idempotent by the key of what it
writes: a retry after a timeout finds the first attempt's rows and returns them."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime
from decimal import Decimal

import structlog
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity

from activities.context import load_context, price_period, segment_balances
from activities.io import (
    FinalizeInvoiceInput,
    InvoiceRefResult,
    PrepareUsageInvoiceInput,
    PrepareUsageInvoiceResult,
    RolloverInput,
    RolloverResult,
    ScheduledInvoiceInput,
    SettleSegmentsInput,
    SettleSegmentsResult,
)
from activities.transaction import activity_transaction
from core import metrics
from pricing import (
    expand_segments,
    expiry_entries,
    grant_entries,
    price_scheduled_invoice,
    rollover,
    true_up_invoice,
)
from pricing.types import PricedInvoice, Segment
from store import closes as close_store
from store import invoices as invoice_store
from store import ledger as ledger_store

log = structlog.get_logger(__name__)

class BillingActivities:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def transaction(self) -> AbstractContextManager[Session]:
        return activity_transaction(self.engine)

    # --- usage invoices -----------------------------------------------------------------------

    @activity.defn(name="prepare_usage_invoice")
    def prepare_usage_invoice(self, input: PrepareUsageInvoiceInput) -> PrepareUsageInvoiceResult:
        terms, period = input.terms, input.period
        key = f"usage:{period.start.isoformat()}"
        with self.transaction() as session:
            stored = close_store.get_result(session, terms.id, key)
            if stored is not None:
                return PrepareUsageInvoiceResult.model_validate(stored)
            ctx = load_context(session, terms)
            active = [
                s
                for s in (*expand_segments(terms), *input.extra_segments)
                if s.starting_at < period.end
            ]
            ledger_store.add_entries(session, terms.id, grant_entries(active))
            priced = price_period(
                session,
                ctx,
                period,
                extra_segments=input.extra_segments,
                discount_first_period=input.discount_first_period,
            )
            ref = self._save(session, terms.id, terms.customer_id, priced, status="draft")
            sla_segments = tuple(g.segment for g in priced.sla_grants)
            result = PrepareUsageInvoiceResult(
                invoice=ref,
                discount_first_period=priced.discount_first_period,
                sla_segments=sla_segments,
                balance=self._balance_after(
                    session, terms.id, [*active, *sla_segments], period.end
                ),
            )
            close_store.save_result(session, terms.id, key, result.model_dump(mode="json"))
        for grant in priced.sla_grants:
            metrics.record_sla_credit(priced.currency, grant.amount)
        log.info(
            "usage invoice prepared",
            contract_id=terms.id,
            invoice_id=ref.invoice_id,
            period_start=period.start.isoformat(),
            total=str(ref.total),
        )
        return result

    @activity.defn(name="finalize_invoice")
    def finalize_invoice(self, input: FinalizeInvoiceInput) -> InvoiceRefResult:
        with self.transaction() as session:
            row, changed = invoice_store.finalize_invoice(
                session, input.invoice_id, at=datetime.now(UTC), with_lines=False
            )
        if changed:
            metrics.record_invoice_finalized(row.kind, row.currency, row.total)
            if row.period_end is not None:
                metrics.record_period_closed(row.period_end, datetime.now(UTC))
        log.info("invoice finalized", contract_id=input.contract_id, invoice_id=row.id)
        return _ref(row)

    # --- scheduled invoices, true-ups, expiries, rollover -------------------------------------

    @activity.defn(name="issue_scheduled_invoice")
    def issue_scheduled_invoice(self, input: ScheduledInvoiceInput) -> InvoiceRefResult:
        terms = input.terms
        with self.transaction() as session:
            ctx = load_context(session, terms)
            priced = price_scheduled_invoice(
                terms, ctx.catalog, ctx.customer.tax_rate, input.timestamp
            )
            ref = self._save(session, terms.id, terms.customer_id, priced, status="finalized")
        log.info("scheduled invoice issued", contract_id=terms.id, invoice_id=ref.invoice_id)
        return ref

    @activity.defn(name="settle_segments")
    def settle_segments(self, input: SettleSegmentsInput) -> SettleSegmentsResult:
        terms = input.terms
        due = [
            s
            for s in (*expand_segments(terms), *input.extra_segments)
            if s.ending_before <= input.through and s.id not in input.exclude
        ]
        invoices: list[InvoiceRefResult] = []
        with self.transaction() as session:
            ctx = load_context(session, terms)
            ledger_store.add_entries(session, terms.id, grant_entries(due))
            balances = segment_balances(session, terms.id, due)
            remaining = {b.segment_id: b.remaining for b in balances}
            expiring: list[Segment] = []
            for segment in due:
                if segment.commit_type == "postpaid":
                    counted = segment.amount - remaining[segment.id]
                    priced = true_up_invoice(
                        terms, ctx.catalog, ctx.customer.tax_rate, segment, counted
                    )
                    if priced is not None:
                        invoices.append(
                            self._save(
                                session, terms.id, terms.customer_id, priced, status="finalized"
                            )
                        )
                else:
                    expiring.append(segment)
            ledger_store.add_entries(
                session, terms.id, expiry_entries(expiring, balances, input.through)
            )
        return SettleSegmentsResult(settled=tuple(s.id for s in due), invoices=tuple(invoices))

    @activity.defn(name="roll_over")
    def roll_over(self, input: RolloverInput) -> RolloverResult:
        terms = input.terms
        segments = [*expand_segments(terms), *input.extra_segments]
        open_at_end = [s for s in segments if s.ending_before >= terms.ending_before]
        with self.transaction() as session:
            ledger_store.add_entries(session, terms.id, grant_entries(open_at_end))
            balances = segment_balances(session, terms.id, open_at_end)
            result = rollover(
                terms, open_at_end, balances, input.successor_start, input.successor_end
            )
            ledger_store.add_entries(session, terms.id, result.ledger)
        rolled = {e.segment_id for e in result.ledger}
        return RolloverResult(commits=result.commits, settled=tuple(sorted(rolled)))

    # --- plumbing -----------------------------------------------------------------------------

    def _balance_after(
        self, session: Session, contract_id: str, segments: list[Segment], at: datetime
    ) -> Decimal:
        """What prepaid commitments and credits leave to spend from `at` on."""
        usable = [s for s in segments
                  if s.commit_type != "postpaid" and s.starting_at <= at < s.ending_before]
        return sum(
            (b.remaining for b in segment_balances(session, contract_id, usable)), Decimal(0)
        )

    def _save(
        self,
        session: Session,
        contract_id: str,
        customer_id: str,
        priced: PricedInvoice,
        *,
        status: str,
    ) -> InvoiceRefResult:
        """Write the invoice and its ledger entries once; a retry finds them and changes nothing."""
        invoice_id, new = invoice_store.insert_invoice(
            session,
            contract_id=contract_id,
            customer_id=customer_id,
            invoice=priced,
            status=status,
        )
        ledger_store.add_entries(session, contract_id, priced.ledger, invoice_id=invoice_id)
        if not new:  # written before (a retry, or the period invoiced under another key)
            return _ref(invoice_store.get_invoice(session, invoice_id, with_lines=False))
        if status == "finalized":
            metrics.record_invoice_finalized(priced.kind, priced.currency, priced.totals.total)
        return InvoiceRefResult(
            invoice_id=invoice_id,
            key=priced.key,
            kind=priced.kind,
            total=_stored(priced.totals.total),
            period_start=priced.period_start,
        )


def _stored(amount: Decimal) -> Decimal:
    """An amount as the database gives it back: plain notation, digit for digit."""
    return Decimal(format(amount, "f"))


def _ref(row: invoice_store.InvoiceView) -> InvoiceRefResult:
    return InvoiceRefResult(
        invoice_id=row.id,
        key=row.key,
        kind=row.kind,
        total=row.total,
        period_start=row.period_start,
    )
