"""Refuse request bodies over ``max_body_bytes`` with 413 PAYLOAD_TOO_LARGE.

A pure ASGI middleware: it answers before reading when Content-Length is too
big, and counts the streamed bytes otherwise (chunked uploads lie about nothing
because they declare nothing).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prefect_ibmq.wire import ErrorCode

from .errors import error_response


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
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
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if response_started:
                raise
            await self._refuse(scope, receive, send, received)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: int) -> None:
        response = error_response(
            413, ErrorCode.PAYLOAD_TOO_LARGE,
            f"request body of {size} bytes or more exceeds the limit of {self.max_body_bytes} bytes",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
