"""Activities that keep the contract projection current and hand work to other contracts."""

from __future__ import annotations

import structlog
from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

from activities.io import (
    RecordAmendmentInput,
    RecordContractInput,
    SendRolloverInput,
    StartSuccessorInput,
    StartSuccessorResult,
)
from activities.transaction import activity_transaction
from core.temporal import start_contract_workflow
from models.messages import SIGNAL_ROLLOVER, RolloverSignal, workflow_id
from models.terms import ContractTerms
from pricing.amendments import apply_amendment
from store import contracts as contract_store

log = structlog.get_logger(__name__)


class ContractActivities:
    def __init__(self, engine: Engine, client: Client, task_queue: str) -> None:
        self.engine = engine
        self.client = client
        self.task_queue = task_queue

    @activity.defn(name="record_contract")
    def record_contract(self, input: RecordContractInput) -> None:
        with activity_transaction(self.engine) as session:
            contract_store.save_projection(
                session, input.terms, status=input.status, renewed_by=input.renewed_by
            )

    @activity.defn(name="record_amendment")
    def record_amendment(self, input: RecordAmendmentInput) -> None:
        with activity_transaction(self.engine) as session:
            row = contract_store.get_contract(session, input.contract_id)
            if row is None:
                raise ApplicationError(
                    f"no contract {input.contract_id!r}", type="InvalidTerms", non_retryable=True
                )
            terms = apply_amendment(ContractTerms.model_validate(row.terms), input.amendment)
            contract_store.save_projection(session, terms, status=row.status)

    @activity.defn(name="start_successor")
    async def start_successor(self, input: StartSuccessorInput) -> StartSuccessorResult:
        """Start the renewal's workflow; starting it twice finds the first one running."""
        terms = input.terms
        with activity_transaction(self.engine) as session:
            contract_store.save_projection(session, terms, status="scheduled", request=terms)
        handle = await start_contract_workflow(
            self.client,
            terms,
            self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        log.info("successor started", contract_id=terms.id, renews=terms.renews)
        return StartSuccessorResult(workflow_id=handle.id)

    @activity.defn(name="send_rollover")
    async def send_rollover(self, input: SendRolloverInput) -> None:
        handle = self.client.get_workflow_handle(workflow_id(input.successor_id))
        await handle.signal(
            SIGNAL_ROLLOVER,
            RolloverSignal(from_contract_id=input.from_contract_id, commits=input.commits),
        )
