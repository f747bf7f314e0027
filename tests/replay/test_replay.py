"""Histories of real runs, replayed against today's workflow code: a change that would break a
running contract fails here. Record new ones with `RECORD_HISTORIES=1 make test`."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.contract import ContractWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_histories_to_replay() -> None:
    names = {path.name.rsplit("-", 1)[0] for path in HISTORIES}
    assert {"twelve-months", "infrax", "sla-credits", "late-usage-amendments"} <= names


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_replay(path: Path) -> None:
    history = WorkflowHistory.from_json(f"contract-{path.stem}", path.read_text())
    replayer = Replayer(workflows=[ContractWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
