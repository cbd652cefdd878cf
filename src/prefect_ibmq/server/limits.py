"""Refuse request bodies over ``max_body_bytes`` with 413 PAYLOAD_TOO_LARGE.

A pure ASGI middleware: it answers before reading when Content-Length is too
big, and counts the bytes as they stream in otherwise (a chunked upload
declares no length), stopping at the limit.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prefect_ibmq.wire import ErrorCode

from .errors import error_response


class BodySizeLimit:
    """ASGI middleware: 413 for a request body over ``max_body_bytes``, declared or streamed."""
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, cutting it off with 413 once its body is too large."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False  # a malformed header is the HTTP server's problem
            if too_big:
                await self._refuse(scope, receive, send, int(declared))
                return
        # Read the body first (FastAPI would buffer it anyway): an error raised while the
        # app reads it would be turned into FastAPI's own 400, so the count happens here.
        chunks: list[bytes] = []
        received = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message]), send)
                return
            body = message.get("body", b"")
            received += len(body)
            if received > limit:
                await self._refuse(scope, receive, send, received)
                return
            chunks.append(body)
            more = message.get("more_body", False)
        buffered: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]
        await self.app(scope, _replay(buffered, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: int) -> None:
        response = error_response(
            413, ErrorCode.PAYLOAD_TOO_LARGE,
            f"request body of {size} bytes or more exceeds the limit of {self.max_body_bytes} bytes",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    """A receive() that returns ``messages`` first, then defers to ``then`` (disconnects)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
