"""One database transaction per activity, the same way for every activity."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.exceptions import ApplicationError

from store.engine import SQLITE_BUSY_TIMEOUT_MS
from store.errors import StoreError


@contextmanager
def activity_transaction(engine: Engine) -> Iterator[Session]:
    """A session in one transaction, committed when the block ends. Store errors (a missing rate
    card, say) become non-retryable failures: retrying cannot fix them."""
    writer = sqlite_writer(engine)
    queue = nullcontext() if writer is None else _queued(writer)
    try:
        with queue, Session(engine, expire_on_commit=False) as session, session.begin():
            yield session
    except StoreError as exc:
        raise ApplicationError(exc.detail, type="InvalidTerms", non_retryable=True) from exc


_WRITERS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_WRITERS_GUARD = threading.Lock()


def sqlite_writer(engine: Engine) -> threading.Lock | None:
    """On SQLite, the lock this process's writing transactions queue on; None on PostgreSQL.

    Every transaction takes SQLite's write lock up front (BEGIN IMMEDIATE), and a connection
    that finds it taken sleeps in SQLite's busy handler — up to 100 ms between tries — so with
    many activity threads the lock sat free while its waiters slept. Threads that queue here
    instead get it the moment it is released. It only orders this process's transactions:
    SQLite's own lock (and busy timeout, against other processes) is what makes them correct.
    """
    if engine.dialect.name != "sqlite":
        return None
    with _WRITERS_GUARD:
        lock = _WRITERS.get(engine)
        if lock is None:
            lock = _WRITERS[engine] = threading.Lock()
        return lock


@contextmanager
def _queued(lock: threading.Lock) -> Iterator[None]:
    # Past SQLite's own busy timeout, go ahead and let SQLite decide: never worse than no queue.
    acquired = lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        yield
    finally:
        if acquired:
            lock.release()
