"""The alert activities against a real database (SQLite, and PostgreSQL when it answers)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.alerts import AlertActivities
from activities.io import DeliverAlertInput, EvaluateAlertsInput
from models.terms import ContractTerms
from pricing import billing_periods
from store import alerts as alert_store
from store import contracts as contract_store
from tests.factories import event, ingest, seed_catalog

SECRET = "activity-test-secret"
START = datetime(2025, 1, 1, tzinfo=UTC)
HOOK = "https://hooks.example.com/billing"


def contract(**changes: Any) -> ContractTerms:
    return ContractTerms.model_validate({
        "id": "acme-2025", "customer_id": "acme", "rate_card_alias": "list",
        "starting_at": START.isoformat(), "ending_before": "2026-01-01T00:00:00Z",
        "commits": [{
            "id": "prepaid", "type": "prepaid", "product_id": "commit-purchase",
            "access_schedule": [{"amount": "100", "starting_at": START.isoformat(),
                                 "ending_before": "2026-01-01T00:00:00Z"}],
        }],
        "alerts": [
            {"id": "low-balance", "type": "balance_below", "threshold": "50",
             "webhook_url": HOOK},
            {"id": "big-month", "type": "spend_above", "threshold": "20"},
        ],
        **changes,
    })


def storage(session: Session, tx: str, gb: str, day: datetime) -> None:
    """Storage at 0.10 a GB: 300 GB is 30.00 of spend."""
    ingest(session, [event(tx, "acme", "storage", day, gb=gb)])


@pytest.fixture
def seeded(engine: Engine) -> ContractTerms:
    terms = contract()
    with Session(engine) as session:
        seed_catalog(session)
        contract_store.save_projection(session, terms, status="active")
        session.commit()
    return terms


def check(acts: AlertActivities, terms: ContractTerms, at: datetime, index: int = 0) -> list[int]:
    period = billing_periods(terms.starting_at, terms.ending_before, "monthly")[index]
    result = ActivityEnvironment().run(
        acts.evaluate_alerts, EvaluateAlertsInput(terms=terms, at=at, period=period)
    )
    return list(result.firing_ids)


def firings(engine: Engine, contract_id: str = "acme-2025") -> list[alert_store.FiringView]:
    with Session(engine) as session:
        return alert_store.list_firings(session, contract_id)


def test_a_firing_is_recorded_once_per_crossing_and_retries_find_it(
    engine: Engine, seeded: ContractTerms
) -> None:
    acts = AlertActivities(engine, SECRET)
    at = START + timedelta(days=10)
    with Session(engine) as session:
        storage(session, "e1", "300", START + timedelta(days=2))
    # 30.00 spent: over 20 (fires, no webhook); balance 100 − 30 = 70, not under 50.
    assert check(acts, seeded, at) == []
    assert [(f.alert_id, f.payload["observed"]) for f in firings(engine)] == [
        ("big-month", "30.00")]

    with Session(engine) as session:
        storage(session, "e2", "300", START + timedelta(days=3))
    first = check(acts, seeded, at + timedelta(days=1))
    # A retried check (same input) and the next day's check find the same firing.
    assert check(acts, seeded, at + timedelta(days=1)) == first
    assert check(acts, seeded, at + timedelta(days=2)) == first
    found = firings(engine)
    assert [(f.alert_id, f.crossing_key) for f in found] == [
        ("big-month", "big-month:1"), ("low-balance", "low-balance:1")]
    low = found[1]
    assert first == [low.id]
    assert low.payload == {
        "event": "alert.fired", "contract_id": "acme-2025", "customer_id": "acme",
        "alert": {"id": "low-balance", "type": "balance_below", "threshold": "50"},
        "observed": "40.00", "details": {}, "crossing": 1,
        "crossed_at": (at + timedelta(days=1)).isoformat(), "currency": "USD",
    }


def test_an_alert_re_arms_after_its_condition_clears(
    engine: Engine, seeded: ContractTerms
) -> None:
    acts = AlertActivities(engine, SECRET)
    with Session(engine) as session:
        storage(session, "jan", "300", START + timedelta(days=2))
        storage(session, "feb", "10", START + timedelta(days=33))
    check(acts, seeded, START + timedelta(days=20))  # January: 30.00 > 20 → fires
    # February's spend is 1.00: the crossing is over, and recorded as cleared.
    check(acts, seeded, START + timedelta(days=40), index=1)
    check(acts, seeded, START + timedelta(days=41), index=1)
    (jan,) = firings(engine)
    assert jan.cleared_at == START + timedelta(days=40)
    with Session(engine) as session:
        storage(session, "feb-more", "300", START + timedelta(days=42))
    check(acts, seeded, START + timedelta(days=43), index=1)
    check(acts, seeded, START + timedelta(days=44), index=1)
    spend = [f for f in firings(engine) if f.alert_id == "big-month"]
    assert [(f.crossing_key, f.payload["observed"], f.cleared_at) for f in spend] == [
        ("big-month:1", "30.00", START + timedelta(days=40)), ("big-month:2", "31.00", None)]


def test_ended_alerts_are_not_checked(engine: Engine, seeded: ContractTerms) -> None:
    acts = AlertActivities(engine, SECRET)
    at = START + timedelta(days=10)
    terms = contract(alerts=[{"id": "big-month", "type": "spend_above", "threshold": "20",
                              "ending_before": at.isoformat()}])
    with Session(engine) as session:
        storage(session, "e1", "300", START + timedelta(days=2))
    check(acts, terms, at)
    assert firings(engine) == []


class Receiver:
    """An httpx transport that answers with the given statuses in turn, then 200s."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.statuses.pop(0) if self.statuses else 200, text="ok")

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


async def test_delivery_is_signed_retried_and_not_resent(
    engine: Engine, seeded: ContractTerms
) -> None:
    receiver = Receiver(500)
    acts = AlertActivities(engine, SECRET, receiver.client)
    with Session(engine) as session:
        storage(session, "e1", "600", START + timedelta(days=2))
    (firing_id,) = check(acts, seeded, START + timedelta(days=10))
    deliver = DeliverAlertInput(contract_id="acme-2025", firing_id=firing_id)
    env = ActivityEnvironment()

    with pytest.raises(ApplicationError) as failed:
        await env.run(acts.deliver_alert, deliver)
    assert failed.value.type == "WebhookFailed"
    assert not failed.value.non_retryable
    await env.run(acts.deliver_alert, deliver)
    await env.run(acts.deliver_alert, deliver)  # already delivered: nothing is sent

    assert len(receiver.requests) == 2
    request = receiver.requests[-1]
    assert str(request.url) == HOOK
    expected = hmac.new(SECRET.encode(), request.content, hashlib.sha256).hexdigest()
    assert request.headers["X-Signature"] == f"sha256={expected}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.content == receiver.requests[0].content  # the resend is byte-identical
    body = json.loads(request.content)
    assert (body["alert"]["id"], body["observed"], body["crossing"]) == ("low-balance", "40.00", 1)

    (firing,) = [f for f in firings(engine) if f.id == firing_id]
    assert [(d.attempt, d.status_code, d.succeeded) for d in firing.deliveries] == [
        (1, 500, False), (2, 200, True)]
    assert firing.deliveries[0].error is not None
    assert firing.delivered
    # Delivered firings are no longer handed back by the check.
    assert check(acts, seeded, START + timedelta(days=11)) == []


async def test_an_unreachable_receiver_is_recorded_and_retried(
    engine: Engine, seeded: ContractTerms
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    acts = AlertActivities(
        engine, SECRET, lambda: httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    )
    with Session(engine) as session:
        storage(session, "e1", "600", START + timedelta(days=2))
    (firing_id,) = check(acts, seeded, START + timedelta(days=10))
    with pytest.raises(ApplicationError):
        await ActivityEnvironment().run(
            acts.deliver_alert, DeliverAlertInput(contract_id="acme-2025", firing_id=firing_id)
        )
    (firing,) = [f for f in firings(engine) if f.id == firing_id]
    assert [(d.status_code, (d.error or "")[:12]) for d in firing.deliveries] == [
        (None, "ConnectError")]
    # Still undelivered: the next check hands it back for another round of retries.
    assert check(acts, seeded, START + timedelta(days=11)) == [firing_id]


async def test_an_unknown_firing_is_not_retried(engine: Engine, seeded: ContractTerms) -> None:
    acts = AlertActivities(engine, SECRET, Receiver().client)
    with pytest.raises(ApplicationError) as failed:
        await ActivityEnvironment().run(
            acts.deliver_alert, DeliverAlertInput(contract_id="acme-2025", firing_id=999)
        )
    assert (failed.value.type, failed.value.non_retryable) == ("UnknownFiring", True)
