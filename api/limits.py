"""Refuse request bodies over MAX_BODY_BYTES before they are read into memory (413).

A pure ASGI middleware: it checks Content-Length up front and counts streamed bytes for chunked
bodies, so a client cannot make the API buffer an arbitrarily large batch.
"""

from __future__ import annotations

import json
import os
from typing import Any

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024

Scope = dict[str, Any]
Message = dict[str, Any]


def max_body_bytes() -> int:
    try:
        return int(os.environ.get("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))
    except ValueError:
        return DEFAULT_MAX_BODY_BYTES


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: Any, limit: int | None = None) -> None:
        self.app = app
        self.limit = max_body_bytes() if limit is None else limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.limit:
                    await self._refuse(send)
                    return
        received = 0
        started = refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            message: Message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # Answer now, then stop the app reading; whatever it sends after is dropped.
                    if not started and not refused:
                        refused = True
                        await self._refuse(send)
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not refused:
                raise

    async def _refuse(self, send: Any) -> None:
        body = json.dumps({
            "type": "https://httpstatuses.io/413",
            "title": "Payload too large",
            "status": 413,
            "detail": f"request bodies are limited to {self.limit} bytes",
        }).encode()
        await send({
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/problem+json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close")],
        })
        await send({"type": "http.response.body", "body": body})
