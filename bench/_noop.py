"""The baseline for the close storm: a workflow that sleeps until an instant, then runs one
activity that does nothing but note when it ran. Kept apart from the benchmark so the workflow
sandbox imports nothing heavier than temporalio."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from temporalio import activity, workflow

RAN_AT: list[float] = []


@activity.defn(name="noop")
def noop(_: str) -> None:
    RAN_AT.append(time.time())


@workflow.defn(name="NoopAtInstant")
class NoopAtInstant:
    @workflow.run
    async def run(self, at: datetime) -> None:
        wait = at - workflow.now()
        if wait > timedelta(0):
            await workflow.sleep(wait)
        await workflow.execute_activity(
            "noop", "", start_to_close_timeout=timedelta(minutes=5)
        )
