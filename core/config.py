"""Configuration from the environment (SPEC section 14), read once where a process starts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"


def default_database_url() -> str:
    return f"sqlite:///{VAR / 'billing.db'}"


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=default_database_url)
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "contracts"
    api_keys: str = ""
    webhook_secret: str = ""
    log_level: str = "INFO"
    log_format: str = "console"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        defaults = cls()
        return cls(
            database_url=env.get("DATABASE_URL") or defaults.database_url,
            temporal_address=env.get("TEMPORAL_ADDRESS") or defaults.temporal_address,
            temporal_namespace=env.get("TEMPORAL_NAMESPACE") or defaults.temporal_namespace,
            task_queue=env.get("TASK_QUEUE") or defaults.task_queue,
            api_keys=env.get("API_KEYS", ""),
            webhook_secret=env.get("WEBHOOK_SECRET", ""),
            log_level=(env.get("LOG_LEVEL") or defaults.log_level).upper(),
            log_format=env.get("LOG_FORMAT") or defaults.log_format,
        )


def admin_key_file() -> Path:
    """Where `make run` keeps the generated admin key when API_KEYS is unset."""
    return VAR / "admin_api_key"
