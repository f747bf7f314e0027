"""Every activity the contract worker runs, bound to its dependencies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client

from activities.alerts import AlertActivities
from activities.billing import BillingActivities
from activities.contracts import ContractActivities


def contract_activities(
    engine: Engine, client: Client, task_queue: str, webhook_secret: str = ""
) -> list[Callable[..., Any]]:
    billing = BillingActivities(engine)
    alerts = AlertActivities(engine, webhook_secret)
    contracts = ContractActivities(engine, client, task_queue)
    return [
        billing.prepare_usage_invoice,
        billing.finalize_invoice,
        billing.issue_scheduled_invoice,
        billing.settle_segments,
        billing.roll_over,
        contracts.record_contract,
        contracts.record_amendment,
        contracts.start_successor,
        contracts.send_rollover,
        alerts.evaluate_alerts,
        alerts.deliver_alert,
    ]
