"""`make run`'s supervisor: it brings the stack up, Ctrl-C takes it down, a dead child stops it."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.devstack import ROOT, admin_key, free_port, http_ok, temporal_binary, wait_until
from tests.e2e.stack import log_tail

pytestmark = pytest.mark.e2e


def test_admin_key_is_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "var" / "admin_api_key"
    first = admin_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert admin_key(path) == first
    assert len(first) >= 32


def children(pid: int) -> dict[int, str]:
    """Direct children of `pid` with their command lines, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found[int(entry.name)] = cmdline
    return found


def gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "zombie" in status.read_text()


@pytest.fixture
def devstack(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, int, Path]]:
    if temporal_binary() is None:
        pytest.skip("temporal CLI not found")
    if not (ROOT / "worker.py").exists():
        pytest.skip("worker.py does not exist yet")
    api_port, ui_port, log = free_port(), free_port(), tmp_path / "devstack.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_EXPORTER_OTLP")}
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'billing.db'}",
        "API_KEYS": "devstack-test-key:admin",  # so the test leaves var/admin_api_key alone
        "WORKER_METRICS_PORT": str(free_port()),
        "TEMPORAL_METRICS_PORT": str(free_port()),
    }
    argv = [sys.executable, str(ROOT / "scripts" / "devstack.py")]
    argv += ["--api-port", str(api_port), "--ui-port", str(ui_port)]
    argv += ["--temporal-port", str(free_port()), "--db-file", str(tmp_path / "temporal.db")]
    with log.open("wb") as sink:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_until(
            # The banner, not just /healthz: only then is the supervisor watching its children.
            lambda: (
                http_ok(f"http://127.0.0.1:{api_port}/healthz")
                and "Ctrl-C stops everything" in log.read_text()
            ),
            "devstack API",
            timeout=90,
            alive=lambda: proc.poll() is None,
        )
    except Exception:
        proc.kill()
        pytest.fail(f"devstack did not come up:\n{log_tail(log)}")
    yield proc, api_port, ui_port, log
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def test_ctrl_c_stops_all_three(devstack: tuple[subprocess.Popen[bytes], int, int, Path]) -> None:
    proc, _api_port, ui_port, log = devstack
    assert httpx.get(f"http://127.0.0.1:{ui_port}", timeout=10).status_code == 200
    started = children(proc.pid)
    assert len(started) == 3, started

    proc.send_signal(signal.SIGINT)

    assert proc.wait(60) == 0, log_tail(log)
    assert not set(started) & set(children(proc.pid))
    for pid in started:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )
    assert "Temporal UI" in log.read_text()


def test_a_dead_child_stops_the_rest(
    devstack: tuple[subprocess.Popen[bytes], int, int, Path],
) -> None:
    proc, _, _, log = devstack
    started = children(proc.pid)
    [api_pid] = [pid for pid, cmd in started.items() if "uvicorn" in cmd]

    os.kill(api_pid, signal.SIGKILL)

    assert proc.wait(60) != 0, log_tail(log)
    assert "api exited" in log.read_text()
