"""End-to-end tests: everything under tests/e2e is marked `e2e` and may use the stack fixtures."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from tests.e2e.stack import DevServer, Stack, log_tail, stack, temporal_dev_server  # noqa: F401

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.fspath).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report carries the tail of every process's log."""
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        logs: dict[str, Path] = {}
        if isinstance(funcargs.get("stack"), Stack):
            logs = funcargs["stack"].logs()
        elif isinstance(funcargs.get("temporal_dev_server"), DevServer):
            logs = {"temporal": funcargs["temporal_dev_server"].workdir / "temporal.log"}
        for name, path in logs.items():
            report.sections.append((f"{name} log ({path})", log_tail(path)))
    return report
