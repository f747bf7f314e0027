"""One format for every line: ours, Temporal's, uvicorn's, with the context we bound."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from decimal import Decimal

import pytest
import structlog

from core.logging import configure_logging


@pytest.fixture(autouse=True)
def _clean_context() -> Iterator[None]:
    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()
    configure_logging("INFO", "console")


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_temporal_stdlib_line_is_json_with_bound_context(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    structlog.contextvars.bind_contextvars(contract_id="c-1", workflow_id="contract-c-1")

    logging.getLogger("temporalio.worker").info("Beginning worker shutdown, %d tasks", 3)

    [line] = json_lines(capsys.readouterr().err)
    assert line["event"] == "Beginning worker shutdown, 3 tasks"
    assert line["logger"] == "temporalio.worker"
    assert line["level"] == "info"
    assert line["contract_id"] == "c-1"
    assert line["workflow_id"] == "contract-c-1"
    assert str(line["timestamp"]).endswith("Z")


def test_structlog_line_keeps_money_exact(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")

    structlog.get_logger("activities.invoices").info("invoice finalized", total=Decimal("0.10"))

    [line] = json_lines(capsys.readouterr().err)
    assert line["total"] == "0.10"
    assert line["logger"] == "activities.invoices"


def test_temporal_workflow_extra_surfaces_workflow_id(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")

    logging.getLogger("temporalio.workflow").info(
        "period closed", extra={"temporal_workflow": {"workflow_id": "contract-9", "run_id": "r"}}
    )

    [line] = json_lines(capsys.readouterr().err)
    assert line["workflow_id"] == "contract-9"


def test_configuring_twice_keeps_one_handler_and_applies_level(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "console")
    configure_logging("WARNING", "json")

    logging.getLogger("uvicorn.error").info("not shown")
    logging.getLogger("uvicorn.error").warning("shown once")

    lines = json_lines(capsys.readouterr().err)
    assert [line["event"] for line in lines] == ["shown once"]


def test_console_format_is_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "console")

    logging.getLogger("temporalio.activity").warning("retrying", extra={"attempt": 2})

    err = capsys.readouterr().err
    assert "retrying" in err
    assert "attempt" in err
    assert not err.lstrip().startswith("{")
