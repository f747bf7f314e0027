"""Business metrics as an operator scrapes them: names, labels, and money kept exact until here."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from temporalio.runtime import Runtime

from core import metrics
from scripts.devstack import free_port


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_invoice_counts_and_amounts() -> None:
    before_count = sample("invoices_finalized_total", kind="usage")
    before_amount = sample("amount_invoiced_total", currency="USD")

    metrics.record_invoice_finalized("usage", "USD", Decimal("1234.56"))
    metrics.record_invoice_finalized("usage", "USD", Decimal("0"))

    assert sample("invoices_finalized_total", kind="usage") == before_count + 2
    assert sample("amount_invoiced_total", currency="USD") == before_amount + 1234.56


def test_usage_sla_alerts_and_close_latency() -> None:
    accepted, duplicates = sample("usage_events_accepted_total"), sample(
        "usage_events_duplicate_total"
    )
    credits = sample("sla_credits_granted_total")
    closes = sample("close_latency_seconds_count")

    metrics.record_usage_ingested(accepted=98, duplicates=2)
    metrics.record_sla_credit("EUR", Decimal("50.00"))
    metrics.record_alert_fired("balance_below")
    end = datetime(2026, 1, 1, tzinfo=UTC)
    metrics.record_period_closed(end, end + timedelta(hours=2))

    assert sample("usage_events_accepted_total") == accepted + 98
    assert sample("usage_events_duplicate_total") == duplicates + 2
    assert sample("sla_credits_granted_total") == credits + 1
    assert sample("sla_credit_amount_total", currency="EUR") >= 50.0
    assert sample("alerts_fired_total", kind="balance_below") >= 1
    assert sample("close_latency_seconds_count") == closes + 1
    assert sample("close_latency_seconds_bucket", le="3600.0") < sample(
        "close_latency_seconds_bucket", le="21600.0"
    )


def test_api_serves_metrics_without_redirect() -> None:
    app = FastAPI()
    metrics.mount_metrics(app)
    metrics.record_usage_ingested(accepted=1, duplicates=0)

    response = TestClient(app).get("/metrics", follow_redirects=False)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "usage_events_accepted_total" in response.text


def test_ports_from_environment() -> None:
    assert metrics.worker_metrics_port({}) == 9464
    assert metrics.worker_metrics_port({"WORKER_METRICS_PORT": "19464"}) == 19464
    assert metrics.temporal_metrics_bind({}) == "0.0.0.0:9465"
    assert metrics.temporal_metrics_bind({"TEMPORAL_METRICS_PORT": "0"}) is None


def test_temporal_runtime_serves_sdk_metrics() -> None:
    port = free_port()
    runtime = metrics.temporal_runtime(f"127.0.0.1:{port}")
    assert isinstance(runtime, Runtime)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.status == 200
