"""One way to connect to Temporal, shared by the API, the worker and the tools."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime

from core.config import Settings
from models.messages import WORKFLOW_NAME, ContractDetails, workflow_id
from models.terms import ContractTerms
from workflows.state import ContractWorkflowInput

CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
CONTRACT_STATUS = SearchAttributeKey.for_keyword("ContractStatus")
SEARCH_ATTRIBUTES = (CUSTOMER_ID, CONTRACT_STATUS)


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        interceptors=[TracingInterceptor()],
        runtime=runtime,
    )


class LazyClient:
    """Connects on first use and again after a failure, so the API starts without Temporal."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await connect(self._settings)
                except Exception as exc:  # connection errors come in several types
                    raise RuntimeError(str(exc) or type(exc).__name__) from exc
            return self._client


async def start_contract_workflow(
    client: Client,
    terms: ContractTerms,
    task_queue: str,
    *,
    id_conflict_policy: WorkflowIDConflictPolicy = WorkflowIDConflictPolicy.FAIL,
) -> WorkflowHandle[Any, Any]:
    """Start contract `terms.id` as workflow `contract-<id>`, findable by customer and status."""
    return await client.start_workflow(
        WORKFLOW_NAME,
        ContractWorkflowInput(terms=terms),
        id=workflow_id(terms.id),
        task_queue=task_queue,
        id_conflict_policy=id_conflict_policy,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(CUSTOMER_ID, terms.customer_id),
                SearchAttributePair(CONTRACT_STATUS, "scheduled"),
            ]
        ),
        static_summary=f"Contract {terms.id} for {terms.customer_id}",
        result_type=ContractDetails,
    )
