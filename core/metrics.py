"""Prometheus metrics: the business counters, the API's /metrics, the worker's endpoints.

Two endpoints per worker process, on purpose: the business metrics below (WORKER_METRICS_PORT,
default 9464, served by prometheus_client) and the Temporal SDK's own metrics (task latencies,
slots, polls; TEMPORAL_METRICS_PORT, default 9465, served by the SDK's Rust core). The API serves
its business metrics at GET /metrics. Set a port to 0 to switch that endpoint off.

Money is Decimal everywhere else. Prometheus samples are float64, so the conversion happens here
and only here (`_sample`), at the boundary, for dashboards: nothing reads money back from metrics.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    make_asgi_app,
    start_http_server,
)
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

DEFAULT_WORKER_METRICS_PORT = 9464
DEFAULT_TEMPORAL_METRICS_PORT = 9465

# Closing happens at period end + grace, or much later for backdated contracts.
_CLOSE_LATENCY_BUCKETS = (1, 10, 60, 300, 900, 3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400)

invoices_finalized = Counter(
    "invoices_finalized", "Invoices finalized, by kind (usage, scheduled, ...).", ["kind"]
)
amount_invoiced = Counter(
    "amount_invoiced", "Sum of finalized invoice totals, in major currency units.", ["currency"]
)
sla_credits_granted = Counter("sla_credits_granted", "SLA credits granted.")
sla_credit_amount = Counter(
    "sla_credit_amount", "Sum of SLA credits granted, in major currency units.", ["currency"]
)
usage_events_accepted = Counter("usage_events_accepted", "Usage events stored.")
usage_events_duplicate = Counter(
    "usage_events_duplicate", "Usage events ignored as duplicates of a stored transaction_id."
)
close_latency = Histogram(
    "close_latency_seconds",
    "How long after a billing period's end the period was closed.",
    buckets=_CLOSE_LATENCY_BUCKETS,
)
alerts_fired = Counter("alerts_fired", "Spend alerts fired, by alert type.", ["kind"])


def _sample(amount: Decimal) -> float:
    # The one place money becomes a float: Prometheus stores float64 samples. Never round-trip it.
    return float(amount)


def record_invoice_finalized(kind: str, currency: str, total: Decimal) -> None:
    invoices_finalized.labels(kind=kind).inc()
    if total > 0:  # counters only go up; a zero or credit invoice adds no amount
        amount_invoiced.labels(currency=currency).inc(_sample(total))


def record_sla_credit(currency: str, amount: Decimal) -> None:
    sla_credits_granted.inc()
    if amount > 0:
        sla_credit_amount.labels(currency=currency).inc(_sample(amount))


def record_usage_ingested(accepted: int, duplicates: int) -> None:
    usage_events_accepted.inc(accepted)
    usage_events_duplicate.inc(duplicates)


def record_period_closed(period_end: datetime, closed_at: datetime) -> None:
    """Close latency; `closed_at` is the wall clock of the close (an activity's now)."""
    close_latency.observe(max(0.0, (closed_at - period_end).total_seconds()))


def record_alert_fired(kind: str) -> None:
    alerts_fired.labels(kind=kind).inc()


def metrics_app(registry: CollectorRegistry = REGISTRY) -> object:
    """The exposition as a bare ASGI app, for mounting under another path or server."""
    return make_asgi_app(registry=registry)


def mount_metrics(app: FastAPI, registry: CollectorRegistry = REGISTRY) -> None:
    """GET /metrics on the API (a plain route, so no redirect to /metrics/ and no auth)."""

    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)


def _port(raw: str | None, default: int) -> int:
    return int(raw.strip()) if raw and raw.strip() else default


def worker_metrics_port(env: Mapping[str, str] | None = None) -> int:
    """WORKER_METRICS_PORT (default 9464); 0 means off."""
    env = os.environ if env is None else env
    return _port(env.get("WORKER_METRICS_PORT"), DEFAULT_WORKER_METRICS_PORT)


def temporal_metrics_bind(env: Mapping[str, str] | None = None) -> str | None:
    """`0.0.0.0:<TEMPORAL_METRICS_PORT>` (default 9465) for the SDK's endpoint; None when 0."""
    env = os.environ if env is None else env
    port = _port(env.get("TEMPORAL_METRICS_PORT"), DEFAULT_TEMPORAL_METRICS_PORT)
    return f"0.0.0.0:{port}" if port else None


def start_worker_metrics(port: int, registry: CollectorRegistry = REGISTRY) -> None:
    """Serve the business metrics of this process on `port` (0: don't)."""
    if port:
        start_http_server(port, registry=registry)


def temporal_runtime(prometheus_bind: str | None) -> Runtime:
    """A Temporal runtime whose SDK metrics are served at `prometheus_bind` (None: no metrics) and
    whose core (Rust) log lines go through Python logging, hence through our formatter.
    Pass it as `Client.connect(..., runtime=...)`; create one per process."""
    metrics = PrometheusConfig(bind_address=prometheus_bind) if prometheus_bind else None
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=metrics,
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
            ),
        )
    )
