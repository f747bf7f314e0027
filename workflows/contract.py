"""The contract workflow: one durable run per contract, from provisioning to renewal.

It decides *when* things happen (closes, scheduled invoices, segment ends, the renewal hand-over)
and keeps the amended terms; activities do every side effect and pricing does every sum. A run
continues as new after each close, so its history stays small however long the contract lives.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.io import (
        DeliverAlertInput,
        EvaluateAlertsInput,
        EvaluateAlertsResult,
        FinalizeInvoiceInput,
        InvoiceRefResult,
        PrepareUsageInvoiceInput,
        PrepareUsageInvoiceResult,
        RecordAmendmentInput,
        RecordContractInput,
        RolloverInput,
        RolloverResult,
        ScheduledInvoiceInput,
        SendRolloverInput,
        SettleSegmentsInput,
        SettleSegmentsResult,
        StartSuccessorInput,
        StartSuccessorResult,
    )
    from core.temporal import CONTRACT_STATUS, CUSTOMER_ID
    from models.messages import (
        QUERY_DETAILS,
        QUERY_STATE,
        QUERY_TERMS,
        SIGNAL_INCIDENT,
        SIGNAL_ROLLOVER,
        UPDATE_AMEND,
        UPDATE_RENEW,
        WORKFLOW_NAME,
        AmendInput,
        AmendmentResult,
        ContractDetails,
        IncidentSignal,
        RenewInput,
        RenewResult,
        RolloverSignal,
        workflow_id,
    )
    from models.terms import ContractTerms, RenewalTerms
    from pricing.amendments import (
        AmendmentConflict,
        AmendmentInvalid,
        apply_amendment,
        check_amendment,
        successor_terms,
    )
    from pricing.types import Period
    from workflows.plan import (
        Action,
        contract_periods,
        contract_segments,
        locked_until,
        next_action,
        scheduled_key,
        watched_alerts,
    )
    from workflows.state import ContractState, ContractWorkflowInput
    from workflows.view import contract_details, current_details

ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["InvalidTerms"],
)
# Nothing heartbeats, so a worker killed mid-activity is only noticed when this runs out:
# keep it short (every activity is one transaction; SQLite waits up to 30 s for a lock).
ACTIVITY_TIMEOUT = timedelta(seconds=60)
# A run continues as new well before Temporal's own limits, so even a period with a thousand
# amendments keeps every run's history small and fast to replay.
HISTORY_EVENTS_BUDGET = 2_000
HISTORY_BYTES_BUDGET = 1_000_000
# A webhook receiver that is down holds up the contract for a few minutes at most; a firing
# still undelivered after that is handed back by the next alert check and tried again.
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=8,
    non_retryable_error_types=["UnknownFiring"],
)



@workflow.defn(name=WORKFLOW_NAME)
class ContractWorkflow:
    @workflow.init
    def __init__(self, input: ContractWorkflowInput) -> None:
        self.terms: ContractTerms = input.terms
        self.state: ContractState = input.state or ContractState(
            awaiting_rollover=input.terms.renews is not None
        )
        self._closing: Period | None = None
        self._wake = False

    # --- the run ------------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: ContractWorkflowInput) -> ContractDetails:
        if input.state is None and workflow.now() < self.terms.starting_at:
            await self._record()  # a contract already under way is recorded as it activates
        self._publish()
        while True:
            if self.terms.renewal is not None and self.state.renewal is None:
                await self._renew(self.terms.renewal)
            if self.state.rolled_over:
                break
            action = next_action(self.terms, self.state, workflow.now())
            if action is None:
                # Only a signal can move the contract on (a successor awaiting its rollover).
                self._wake = False
                await workflow.wait_condition(lambda: self._wake)
                continue
            if action.due > workflow.now():
                await self._sleep_until(action)
                if self._history_full():
                    await self._continue_as_new()
                continue
            await self._perform(action)
            self._publish()
            if action.kind == "close" or self._history_full():
                await self._continue_as_new()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.details()

    def _history_full(self) -> bool:
        """Past our own budget (well under Temporal's limits), or when the server suggests it."""
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > HISTORY_EVENTS_BUDGET
            or info.get_current_history_size() > HISTORY_BYTES_BUDGET
        )

    async def _continue_as_new(self) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(ContractWorkflowInput(terms=self.terms, state=self.state))

    async def _sleep_until(self, action: Action) -> None:
        self._wake = False
        try:
            await workflow.wait_condition(
                lambda: self._wake,
                timeout=action.due - workflow.now(),
                timeout_summary=f"{action.kind} at {action.due.isoformat()}",
            )
        except TimeoutError:
            pass

    async def _perform(self, action: Action) -> None:
        if action.kind == "activate":
            self._set(status="active")
            await self._record()
        elif action.kind == "scheduled":
            assert action.timestamp is not None
            await self._issue_scheduled(action.timestamp)
        elif action.kind == "close":
            assert action.period is not None
            await self._close(action.period)
        elif action.kind == "settle":
            assert action.timestamp is not None
            await self._settle(action.timestamp, exclude_end=True)
        elif action.kind == "alerts":
            await self._evaluate_alerts()
        else:
            await self._end()

    # --- the actions --------------------------------------------------------------------------

    async def _issue_scheduled(self, timestamp: datetime) -> None:
        ref: InvoiceRefResult = await self._activity(
            "issue_scheduled_invoice",
            ScheduledInvoiceInput(terms=self.terms, timestamp=timestamp),
            InvoiceRefResult,
            summary=f"scheduled invoice {timestamp.date().isoformat()}",
        )
        self._set(issued=(*self.state.issued, scheduled_key(timestamp)))
        self._invoiced(ref)

    async def _close(self, period: Period) -> None:
        self._closing = period
        prepared: PrepareUsageInvoiceResult = await self._activity(
            "prepare_usage_invoice",
            PrepareUsageInvoiceInput(
                terms=self.terms,
                period=period,
                extra_segments=self.state.sla_segments,
                discount_first_period=self.state.discount_first_period,
            ),
            PrepareUsageInvoiceResult,
            summary=f"rate period {period.index} ({period.start.date()}–{period.end.date()})",
        )
        ref: InvoiceRefResult = await self._activity(
            "finalize_invoice",
            FinalizeInvoiceInput(contract_id=self.terms.id, invoice_id=prepared.invoice.invoice_id),
            InvoiceRefResult,
            summary=f"finalize {prepared.invoice.invoice_id}",
        )
        known = {s.id for s in self.state.sla_segments}
        self._set(
            closed_periods=self.state.closed_periods + 1,
            discount_first_period=prepared.discount_first_period,
            balance=prepared.balance,
            sla_segments=(
                *self.state.sla_segments,
                *(s for s in prepared.sla_segments if s.id not in known),
            ),
        )
        self._invoiced(ref)
        self._closing = None
        if watched_alerts(self.terms, workflow.now()):
            await self._evaluate_alerts()

    async def _evaluate_alerts(self) -> None:
        """Check spend alerts now; each firing is delivered by its own retried activity."""
        periods = contract_periods(self.terms)
        open_period = (
            periods[self.state.closed_periods]
            if self.state.closed_periods < len(periods)
            else None
        )
        now = workflow.now()
        result: EvaluateAlertsResult = await self._activity(
            "evaluate_alerts",
            EvaluateAlertsInput(
                terms=self.terms,
                at=now,
                period=open_period,
                extra_segments=self.state.sla_segments,
                discount_first_period=self.state.discount_first_period,
            ),
            EvaluateAlertsResult,
            summary=f"check {len(self.terms.alerts)} spend alert(s)",
        )
        self._set(alerts_checked_at=now)
        for firing_id in result.firing_ids:
            try:
                await workflow.execute_activity(
                    "deliver_alert",
                    DeliverAlertInput(contract_id=self.terms.id, firing_id=firing_id),
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=DELIVERY_RETRY,
                    summary=f"deliver alert firing {firing_id}",
                )
            except ActivityError:
                workflow.logger.warning("alert firing %s not delivered yet", firing_id)

    async def _settle(self, through: datetime, *, exclude_end: bool) -> None:
        end = self.terms.ending_before
        segments = contract_segments(self.terms, self.state)
        exclude = tuple(s.id for s in segments if exclude_end and s.ending_before >= end)
        result: SettleSegmentsResult = await self._activity(
            "settle_segments",
            SettleSegmentsInput(
                terms=self.terms,
                through=through,
                extra_segments=self.state.sla_segments,
                exclude=(*self.state.settled, *exclude),
            ),
            SettleSegmentsResult,
            summary=f"expire and true up segments ending by {through.date().isoformat()}",
        )
        self._set(settled=tuple(sorted({*self.state.settled, *result.settled})))
        for ref in result.invoices:
            self._invoiced(ref)

    async def _end(self) -> None:
        renewal = self.state.renewal
        if renewal is not None:
            rolled: RolloverResult = await self._activity(
                "roll_over",
                RolloverInput(
                    terms=self.terms,
                    extra_segments=self.state.sla_segments,
                    successor_id=renewal.successor_contract_id,
                    successor_start=renewal.starting_at,
                    successor_end=renewal.ending_before,
                ),
                RolloverResult,
                summary=f"roll over into {renewal.successor_contract_id}",
            )
            self._set(settled=tuple(sorted({*self.state.settled, *rolled.settled})))
            await self._activity(
                "send_rollover",
                SendRolloverInput(
                    successor_id=renewal.successor_contract_id,
                    from_contract_id=self.terms.id,
                    commits=rolled.commits,
                ),
                None,
                summary=f"hand rollover to {renewal.successor_contract_id}",
            )
        await self._settle(self.terms.ending_before, exclude_end=False)
        self._set(status="renewed" if renewal else "ended", rolled_over=True)
        await self._record()

    # --- renewals -----------------------------------------------------------------------------

    async def _renew(self, renewal: RenewalTerms) -> RenewResult:
        successor = successor_terms(self.terms, renewal)
        result = RenewResult(
            renewal_id=renewal.id,
            successor_contract_id=successor.id,
            successor_workflow_id=workflow_id(successor.id),
            starting_at=successor.starting_at,
            ending_before=successor.ending_before,
        )
        self._set(renewal=result)
        await self._activity(
            "start_successor",
            StartSuccessorInput(terms=successor),
            StartSuccessorResult,
            summary=f"start successor {successor.id}",
        )
        await self._record()
        self._wake = True
        return result

    @workflow.update(name=UPDATE_RENEW)
    async def renew(self, input: RenewInput) -> RenewResult:
        if self.state.renewal is not None:
            return self.state.renewal
        return await self._renew(input.renewal)

    @renew.validator
    def _validate_renew(self, input: RenewInput) -> None:
        current = self.state.renewal
        if current is not None:
            if current.renewal_id == input.renewal.id:
                return
            raise ApplicationError(
                f"already renewed by {current.successor_contract_id}", type="Conflict"
            )
        if self.state.rolled_over:
            raise ApplicationError("the contract has ended; provision a new one", type="Conflict")
        if input.renewal.ending_before <= self.terms.ending_before:
            raise ApplicationError(
                "the renewal must end after the contract it renews", type="Invalid"
            )

    @workflow.signal(name=SIGNAL_ROLLOVER)
    def rollover(self, signal: RolloverSignal) -> None:
        if not self.state.awaiting_rollover:
            return
        present = set(self.terms.element_ids())
        commits = [c for c in signal.commits if c.id not in present]
        if commits:
            self.terms = self.terms.model_copy(update={"commits": (*self.terms.commits, *commits)})
            self.terms = ContractTerms.model_validate(self.terms.model_dump())
        self._set(awaiting_rollover=False)
        self._wake = True

    @workflow.signal(name=SIGNAL_INCIDENT)
    def slo_incident(self, signal: IncidentSignal) -> None:
        """Incidents are stored by the API and read at each close; the workflow keeps the open
        ones for its operator view."""
        open_ids = set(self.state.open_incidents)
        if signal.resolved_at is None:
            open_ids.add(signal.incident_id)
        else:
            open_ids.discard(signal.incident_id)
        self._set(open_incidents=tuple(sorted(open_ids)))
        self._publish()

    # --- amendments ---------------------------------------------------------------------------

    @workflow.update(name=UPDATE_AMEND)
    async def amend(self, input: AmendInput) -> AmendmentResult:
        amendment = input.amendment
        prior = self.state.amendments.get(amendment.id)
        if prior is not None:
            return prior.model_copy(update={"replayed": True})
        try:
            check_amendment(self.terms, amendment, self._locked_until())
            self.terms = apply_amendment(self.terms, amendment)
        except AmendmentConflict as exc:
            raise ApplicationError(str(exc), type="Conflict") from exc
        except (AmendmentInvalid, ValueError) as exc:
            raise ApplicationError(str(exc), type="Invalid") from exc
        result = AmendmentResult(amendment_id=amendment.id, applied_at=workflow.now())
        self._set(amendments={**self.state.amendments, amendment.id: result})
        self._wake = True
        await self._activity(
            "record_amendment",
            RecordAmendmentInput(contract_id=self.terms.id, amendment=amendment),
            None,
            summary=f"record amendment {amendment.id}",
        )
        return result

    @amend.validator
    def _validate_amend(self, input: AmendInput) -> None:
        if input.amendment.id in self.state.amendments:
            return
        try:
            check_amendment(self.terms, input.amendment, self._locked_until())
            apply_amendment(self.terms, input.amendment)
        except AmendmentConflict as exc:
            raise ApplicationError(str(exc), type="Conflict") from exc
        except (AmendmentInvalid, ValueError) as exc:
            raise ApplicationError(str(exc), type="Invalid") from exc

    def _locked_until(self) -> datetime:
        return locked_until(self.terms, self.state, closing=self._closing is not None)

    # --- queries and operator view ------------------------------------------------------------

    @workflow.query(name=QUERY_DETAILS)
    def details(self) -> ContractDetails:
        return contract_details(self.terms, self.state)

    @workflow.query(name=QUERY_TERMS)
    def current_terms(self) -> ContractTerms:
        return self.terms

    @workflow.query(name=QUERY_STATE)
    def current_state(self) -> ContractState:
        return self.state

    def _publish(self) -> None:
        """Keep the Temporal UI's search attributes and current details in step with the state."""
        workflow.upsert_search_attributes(
            [
                CUSTOMER_ID.value_set(self.terms.customer_id),
                CONTRACT_STATUS.value_set(self.state.status),
            ]
        )
        workflow.set_current_details(current_details(self.terms, self.state))

    # --- plumbing -----------------------------------------------------------------------------

    def _set(self, **changes: Any) -> None:
        self.state = self.state.model_copy(update=changes)

    def _invoiced(self, ref: InvoiceRefResult) -> None:
        self._set(
            last_invoice_id=ref.invoice_id,
            last_invoice_total=ref.total,
            invoiced_total=self.state.invoiced_total + ref.total,
        )

    async def _record(self) -> None:
        await self._activity(
            "record_contract",
            RecordContractInput(
                terms=self.terms,
                status=self.state.status,
                renewed_by=(
                    self.state.renewal.successor_contract_id if self.state.renewal else None
                ),
            ),
            None,
            summary=f"record contract as {self.state.status}",
        )

    async def _activity(
        self, name: str, arg: Any, result_type: type | None, *, summary: str
    ) -> Any:
        return await workflow.execute_activity(
            name,
            arg,
            result_type=result_type,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
            summary=summary,
        )

