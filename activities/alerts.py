"""Spend alerts: the check (sync, database) and the signed webhook delivery (async, HTTP).

The check prices the open period exactly as its close would (`price_period`), hands the numbers to
`pricing.alerts`, and records a firing per new crossing — keyed by crossing number, so a retried
check finds the firing the first attempt wrote. It returns every firing still undelivered, so a
delivery that ran out of retries is tried again at the next check. Delivery is at least once: a
receiver de-duplicates by the `Idempotency-Key` header (contract id and crossing key).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import structlog
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.context import load_context, price_period, segment_balances
from activities.io import DeliverAlertInput, EvaluateAlertsInput, EvaluateAlertsResult
from activities.transaction import activity_transaction
from core import metrics
from pricing import expand_segments
from pricing.alerts import (
    AlertSnapshot,
    CrossingState,
    DrawdownSpan,
    evaluate_alerts,
    firing_payload,
    next_transition,
)
from pricing.rating import currency_of
from pricing.types import PricedInvoice, Segment
from store import alerts as alert_store
from store import contracts as contract_store
from store import invoices as invoice_store
from store import ledger as ledger_store

log = structlog.get_logger(__name__)

WEBHOOK_TIMEOUT = httpx.Timeout(10.0)
# A receiver that was down for a long time is caught up a batch per check, not all at once.
MAX_DELIVERIES_PER_CHECK = 20

HttpClientFactory = Callable[[], httpx.AsyncClient]


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes POSTed and signed: canonical JSON, so a resend is byte-identical."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of the body>`, the X-Signature header value."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _default_http() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT, follow_redirects=False)


class AlertActivities:
    def __init__(
        self,
        engine: Engine,
        webhook_secret: str,
        http_client: HttpClientFactory = _default_http,
    ) -> None:
        self.engine = engine
        self.webhook_secret = webhook_secret
        self.http_client = http_client

    def transaction(self) -> AbstractContextManager[Session]:
        return activity_transaction(self.engine)

    # --- the check ----------------------------------------------------------------------------

    @activity.defn(name="evaluate_alerts")
    def evaluate_alerts(self, input: EvaluateAlertsInput) -> EvaluateAlertsResult:
        terms = input.terms
        fired: list[str] = []
        with self.transaction() as session:
            snapshot = self._snapshot(session, input)
            states = alert_store.crossing_states(session, terms.id)
            for reading in evaluate_alerts(terms.alerts, snapshot):
                state = states.get(reading.alert_id, CrossingState())
                step = next_transition(reading.in_breach, state)
                if step == "fire":
                    crossing = state.crossings + 1
                    payload = firing_payload(
                        reading, contract_id=terms.id, customer_id=terms.customer_id,
                        currency=snapshot.currency, crossing=crossing, crossed_at=input.at,
                    )
                    _, created = alert_store.record_firing(
                        session, terms.id, reading.alert_id, crossing, at=input.at,
                        payload=payload,
                    )
                    if created:
                        fired.append(reading.type)
                        log.info("spend alert fired", contract_id=terms.id,
                                 alert_id=reading.alert_id, crossing=crossing,
                                 observed=str(reading.observed))
                elif step == "clear":
                    alert_store.record_clear(
                        session, terms.id, reading.alert_id, state.crossings, at=input.at,
                        observed=str(reading.observed),
                    )
            hooked = [a.id for a in terms.alerts if a.webhook_url]
            pending = alert_store.undelivered_firings(
                session, terms.id, hooked, limit=MAX_DELIVERIES_PER_CHECK
            )
        for kind in fired:
            metrics.record_alert_fired(kind)
        return EvaluateAlertsResult(firing_ids=tuple(pending))

    def _snapshot(self, session: Session, input: EvaluateAlertsInput) -> AlertSnapshot:
        terms, period, at = input.terms, input.period, input.at
        ctx = load_context(session, terms)
        merged: dict[str, Segment] = {}
        for seg in (*expand_segments(terms), *input.extra_segments):
            merged.setdefault(seg.id, seg)
        prepaid = [s for s in merged.values() if s.commit_type != "postpaid"]
        ids = {s.id for s in prepaid}
        draft: PricedInvoice | None = None
        if period is not None:
            draft = price_period(
                session, ctx, period, extra_segments=input.extra_segments,
                discount_first_period=input.discount_first_period,
            )
        draft_drawdown: dict[str, Decimal] = {}
        spend = Decimal(0)
        spans = self._closed_drawdown(session, terms.id, ids)
        if draft is not None and period is not None:
            for entry in draft.ledger:
                if entry.kind == "drawdown" and entry.segment_id in ids:
                    draft_drawdown[entry.segment_id] = (
                        draft_drawdown.get(entry.segment_id, Decimal(0)) + entry.amount
                    )
            t = draft.totals
            spend = t.usage + t.corrections - t.discounts
            to_date = min(at, period.end)
            if to_date > period.start and draft_drawdown:
                spans.append(DrawdownSpan(
                    start=period.start, end=to_date, amount=sum(draft_drawdown.values())
                ))
        return AlertSnapshot(
            at=at,
            currency=draft.currency if draft else currency_of(terms, ctx.catalog),
            segments=tuple(prepaid),
            balances=segment_balances(session, terms.id, prepaid),
            draft_drawdown=draft_drawdown,
            period_spend=spend,
            drawdown=tuple(spans),
            history_start=terms.starting_at,
        )

    def _closed_drawdown(
        self, session: Session, contract_id: str, segment_ids: set[str]
    ) -> list[DrawdownSpan]:
        """Each invoiced period's prepaid/credit drawdown, spread over the period it paid for."""
        periods = {
            i.id: (i.period_start, i.period_end)
            for i in invoice_store.list_invoices(session, contract_id)
            if i.period_start is not None and i.period_end is not None
        }
        drawn: dict[str, Decimal] = {}
        for entry in ledger_store.entries_for(session, contract_id):
            if entry.kind == "drawdown" and entry.segment_id in segment_ids:
                if entry.invoice_id in periods:
                    drawn[entry.invoice_id] = drawn.get(entry.invoice_id, Decimal(0)) + entry.amount
        spans = []
        for invoice_id, amount in drawn.items():
            start, end = periods[invoice_id]
            assert start is not None
            assert end is not None
            spans.append(DrawdownSpan(start=start, end=end, amount=amount))
        return spans

    # --- the delivery -------------------------------------------------------------------------

    @activity.defn(name="deliver_alert")
    async def deliver_alert(self, input: DeliverAlertInput) -> None:
        found = await asyncio.to_thread(self._load_firing, input)
        if found is None:
            return
        firing_id, url, payload = found
        body = webhook_body(payload)
        headers = {
            "Content-Type": "application/json",
            "X-Signature": signature(self.webhook_secret, body),
            "Idempotency-Key": f"{input.contract_id}:{payload['alert']['id']}:"
                               f"{payload['crossing']}",
            "User-Agent": "contract-billing-alerts/1",
        }
        status: int | None = None
        error: str | None = None
        try:
            async with self.http_client() as client:
                response = await client.post(url, content=body, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        await asyncio.to_thread(self._record_attempt, firing_id, status, error)
        bound = log.bind(contract_id=input.contract_id, firing_id=firing_id, status_code=status)
        if error is not None:
            bound.warning("alert delivery failed", error=error)
            raise ApplicationError(f"webhook delivery failed: {error}", type="WebhookFailed")
        bound.info("alert delivered")

    def _load_firing(self, input: DeliverAlertInput) -> tuple[int, str, dict[str, Any]] | None:
        """(firing id, url, payload) to send, or None when there is nothing to send."""
        with self.transaction() as session:
            firing = alert_store.get_firing(session, input.firing_id)
            if firing is None or firing.id is None or firing.contract_id != input.contract_id:
                raise ApplicationError(
                    f"no alert firing {input.firing_id} for contract {input.contract_id!r}",
                    type="UnknownFiring",
                    non_retryable=True,
                )
            if alert_store.is_delivered(session, firing.id):
                return None
            contract = contract_store.get_contract(session, input.contract_id)
            recorded = (contract.terms.get("alerts") or []) if contract else []
            alerts = {a.get("id"): a for a in recorded}
            if firing.alert_id not in alerts:
                # The projection is written by record_contract, which an amendment that added
                # the alert may not have finished yet: retry.
                raise ApplicationError(
                    f"alert {firing.alert_id!r} is not in the contract projection yet",
                    type="AlertNotRecorded",
                )
            url = alerts[firing.alert_id].get("webhook_url")
            if not url:
                return None
            return firing.id, str(url), dict(firing.payload)

    def _record_attempt(self, firing_id: int, status: int | None, error: str | None) -> None:
        with self.transaction() as session:
            alert_store.record_delivery(
                session, firing_id, status_code=status, error=error, at=datetime.now(UTC)
            )
