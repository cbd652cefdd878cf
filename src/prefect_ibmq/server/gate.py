"""The first thing every request meets: who is asking, how often, and how big a body it may send.

A pure ASGI middleware in front of the app. From the headers alone it

1. identifies the caller: a ``/v1`` token, or on the runtime paths a runtime
   access token (JWT); a protected path without a valid one is answered 401 at
   once, its body never read;
2. charges the caller's request-rate budget (:class:`RequestRates`); past it the
   answer is 429 with ``Retry-After``, sent after a pause of :data:`TARPIT_S`, so
   a client flooding in a loop makes one refused request per second and
   connection however fast it is (a client that honours ``Retry-After`` loses
   that second once);
3. charges the time the caller's requests took to serve against its share of the
   server (:class:`ServerTime`, ``limits.server_share``); a caller past its share is
   refused like one past its rate, so expensive requests (listings, large jobs) run
   out sooner than cheap ones;
4. serves at most ``limits.max_concurrent_requests`` of the caller's requests at
   once (:class:`Turns`; long polls, which hold no thread, aside): more wait their
   turn, up to ``limits.max_waiting_requests`` (then 429), so one identity's slow
   requests never take every worker thread from the others;
5. caps the body by route: ``max_body_bytes`` for a job submission,
   ``limits.max_request_bytes`` for any other authenticated request,
   ``limits.max_anonymous_body_bytes`` without a token; a body declared larger is
   refused (413) before it is read, one streamed is cut off at the cap.

Errors come in the shape of the path's API: ``ErrorBody`` on ``/v1``, IBM's on
the runtime paths.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prefect_ibmq.wire import API_PREFIX, ErrorCode, Identity

from .auth import TokenTable
from .errors import error_response
from .limits import Limits
from .runtime.errors import RUNTIME_PATHS, ibm_error

#: How long a request refused for its rate is held before its 429 goes out (it holds no thread).
TARPIT_S = 1.0
#: An identity none other has been seen beside for this long has the server to itself.
ALONE_AFTER_S = 10.0
#: Paths anyone may call without a token (their bodies are capped as anonymous).
PUBLIC_PATHS = frozenset({f"{API_PREFIX}/health", "/identity/token", "/openapi.json", "/docs", "/redoc",
                          "/docs/oauth2-redirect"})
#: (method, path) of the routes that carry a job: the large body cap applies to them only.
SUBMISSIONS = frozenset({("POST", f"{API_PREFIX}/jobs"), ("POST", "/api/v1/jobs")})


class RequestRates:
    """A token bucket per identity: ``rate`` requests a second sustained, ``burst`` at once.

    Used on the event loop only, so it needs no lock.
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[tuple[str, ...], tuple[float, float]] = {}

    def take(self, who: Identity) -> float:
        """Charge one request to ``who``: 0 if allowed, else the seconds until it would be."""
        key = (who.user, who.hub, who.group, who.project)
        now = self._clock()
        tokens, then = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate


class ServerTime:
    """Per identity: seconds of serving it may still use (refilled at ``share`` a second, up to ``burst``).

    Charged after each request with the time it took. A share is a share of something
    others want: an identity alone on the server (no other one seen for
    :data:`ALONE_AFTER_S`) is never refused for its time, so a single user, the embedded
    server and a benchmark get the whole of it. Used on the event loop only.
    """

    def __init__(self, share: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.share = share
        self.burst = burst
        self._clock = clock
        self._balances: dict[tuple[str, ...], tuple[float, float]] = {}
        self._seen: dict[tuple[str, ...], float] = {}

    def _balance(self, key: tuple[str, ...]) -> float:
        now = self._clock()
        balance, then = self._balances.get(key, (self.burst, now))
        balance = min(self.burst, balance + (now - then) * self.share)
        self._balances[key] = (balance, now)
        return balance

    def wait(self, who: Identity) -> float:
        """0 while ``who`` has time left (or is alone), else the seconds until it has again."""
        key = (who.user, who.hub, who.group, who.project)
        now = self._clock()
        self._seen[key] = now
        balance = self._balance(key)
        if balance > 0 or not any(seen > now - ALONE_AFTER_S for other, seen in self._seen.items() if other != key):
            return 0.0
        return -balance / self.share + 1e-3

    def charge(self, who: Identity, seconds: float) -> None:
        """``who``'s request took ``seconds`` to serve."""
        key = (who.user, who.hub, who.group, who.project)
        self._balances[key] = (self._balance(key) - seconds, self._clock())


class Turns:
    """Per identity: at most ``limit`` requests served at once, at most ``waiting`` more waiting (on the loop)."""

    def __init__(self, limit: int, waiting: int) -> None:
        self.limit = limit
        self.most_waiting = waiting
        self._slots: dict[tuple[str, ...], asyncio.Semaphore] = {}
        self._waiting: dict[tuple[str, ...], int] = {}

    async def acquire(self, who: Identity) -> bool:
        """Wait for a turn of ``who``; False at once when too many of its requests wait already."""
        key = (who.user, who.hub, who.group, who.project)
        slot = self._slots.setdefault(key, asyncio.Semaphore(self.limit))
        if slot.locked():
            if self._waiting.get(key, 0) >= self.most_waiting:
                return False
            self._waiting[key] = self._waiting.get(key, 0) + 1
            try:
                await slot.acquire()
            finally:
                self._waiting[key] -= 1
        else:
            await slot.acquire()
        return True

    def release(self, who: Identity) -> None:
        """End a turn of ``who``."""
        self._slots[(who.user, who.hub, who.group, who.project)].release()


class RequestGate:
    """ASGI middleware: authentication, request rate and body size, before the app reads anything."""

    def __init__(self, app: ASGIApp, tokens: TokenTable, limits: Limits, max_body_bytes: int) -> None:
        self.app = app
        self.tokens = tokens
        self.limits = limits
        self.max_body_bytes = max_body_bytes
        self.rates = RequestRates(limits.requests_per_second, limits.request_burst)
        self.turns = Turns(limits.max_concurrent_requests, limits.max_waiting_requests)
        self.time = ServerTime(limits.server_share, limits.server_share_burst_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 401, 429 or 413 from the headers when due; otherwise pass the request on, its body capped."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        runtime = path.startswith(RUNTIME_PATHS)
        headers = dict(scope["headers"])
        has_body = b"content-length" in headers or b"transfer-encoding" in headers
        if path in PUBLIC_PATHS or not (runtime or path.startswith(API_PREFIX + "/")):
            cap = self.limits.max_anonymous_body_bytes
        else:
            credentials = _bearer(headers.get(b"authorization"))
            who = self._identify(scope, credentials, runtime) if credentials else None
            if who is None:
                await self._unauthorized(runtime, credentials is None, has_body)(scope, receive, send)
                return
            long_poll = _long_poll(scope["method"], path)
            wait = self.rates.take(who) or (0.0 if long_poll else self.time.wait(who))
            if wait > 0:
                await asyncio.sleep(TARPIT_S)
                await self._rate_limited(runtime, who, wait, has_body)(scope, receive, send)
                return
            submission = (scope["method"], path.rstrip("/")) in SUBMISSIONS
            cap = self.max_body_bytes if submission else self.limits.max_request_bytes
            if not long_poll:
                if not await self.turns.acquire(who):
                    await self._too_many_waiting(runtime, who, has_body)(scope, receive, send)
                    return
                try:
                    await self._capped(scope, receive, send, headers.get(b"content-length"), cap, runtime,
                                       lambda seconds: self.time.charge(who, seconds))
                finally:
                    self.turns.release(who)
                return
        await self._capped(scope, receive, send, headers.get(b"content-length"), cap, runtime)

    # --- who is asking ---------------------------------------------------------------

    def _identify(self, scope: Scope, credentials: str, runtime: bool) -> Identity | None:
        if not runtime:
            return self.tokens.identify(credentials)
        state = getattr(scope["app"].state, "runtime", None)
        return state.tokens.identify(credentials) if state is not None else None

    def _unauthorized(self, runtime: bool, missing: bool, has_body: bool) -> Response:
        # The same words as the routes' own dependencies (auth.current_identity, runtime.deps).
        headers = {"WWW-Authenticate": "Bearer", **_closing(has_body)}
        if runtime:
            reason = "missing" if missing else "invalid or expired"
            message = f"{reason} access token: send 'Authorization: Bearer <token from POST /identity/token>'"
            return ibm_error(401, "unauthorized", message, headers)
        reason = "missing bearer token" if missing else "unknown bearer token"
        return error_response(
            401, ErrorCode.UNAUTHORIZED, f"{reason}: send 'Authorization: Bearer <token>'", headers=headers
        )

    def _rate_limited(self, runtime: bool, who: Identity, wait: float, has_body: bool) -> Response:
        retry_after = max(1, math.ceil(wait))
        message = (
            f"too many requests from {who.user} ({who.hub}/{who.group}/{who.project}): "
            f"limits.requests_per_second={self.limits.requests_per_second:g} (burst {self.limits.request_burst}), "
            f"limits.server_share={self.limits.server_share:g} of the server's time "
            f"(burst {self.limits.server_share_burst_s:g} s); retry in {retry_after} s"
        )
        headers = {"Retry-After": str(retry_after), **_closing(has_body)}
        if runtime:
            return ibm_error(429, "rate_limited", message, headers)
        return error_response(429, ErrorCode.SERVICE_UNAVAILABLE, message, headers=headers)

    def _too_many_waiting(self, runtime: bool, who: Identity, has_body: bool) -> Response:
        message = (
            f"too many requests at once from {who.user} ({who.hub}/{who.group}/{who.project}): "
            f"limits.max_concurrent_requests={self.limits.max_concurrent_requests} are served and "
            f"limits.max_waiting_requests={self.limits.max_waiting_requests} wait; retry in 1 s"
        )
        headers = {"Retry-After": "1", **_closing(has_body)}
        if runtime:
            return ibm_error(429, "rate_limited", message, headers)
        return error_response(429, ErrorCode.SERVICE_UNAVAILABLE, message, headers=headers)

    # --- the body --------------------------------------------------------------------

    async def _capped(
        self, scope: Scope, receive: Receive, send: Send, declared: bytes | None, cap: int, runtime: bool,
        served: Callable[[float], None] = lambda seconds: None,
    ) -> None:
        """Read the body (at most ``cap`` bytes), then serve the request; ``served`` gets the time serving took."""
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                size = 0  # a malformed header is the HTTP server's problem
            if size > cap:
                await self._too_large(size, cap, runtime)(scope, receive, send)
                return
        # Read the body here, counting (a chunked upload declares no length): an error raised
        # while the app reads it would become FastAPI's own 400. FastAPI buffers it anyway.
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
            if received > cap:
                await self._too_large(received, cap, runtime)(scope, receive, send)
                return
            chunks.append(body)
            more = message.get("more_body", False)
        buffered: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]
        started = time.perf_counter()
        try:
            await self.app(scope, _replay(buffered, receive), send)
        finally:
            served(time.perf_counter() - started)

    def _too_large(self, size: int, cap: int, runtime: bool) -> Response:
        name = "max_body_bytes" if cap == self.max_body_bytes else (
            "limits.max_request_bytes" if cap == self.limits.max_request_bytes else "limits.max_anonymous_body_bytes"
        )
        message = f"request body of {size} bytes or more exceeds {name}={cap} bytes"
        if runtime:
            return ibm_error(413, "payload_too_large", message, {"Connection": "close"})
        return error_response(413, ErrorCode.PAYLOAD_TOO_LARGE, message, headers={"Connection": "close"})


def _long_poll(method: str, path: str) -> bool:
    """A job's status request: a long poll parks on the event loop and holds no thread, so it waits for no turn."""
    return method == "GET" and path.startswith(f"{API_PREFIX}/jobs/") and path.endswith("/status")


def _bearer(authorization: bytes | None) -> str | None:
    """The credentials of an ``Authorization: Bearer ...`` header; None when there are none (as HTTPBearer)."""
    if authorization is None:
        return None
    scheme, _, credentials = authorization.decode("latin-1").partition(" ")
    credentials = credentials.strip()
    return credentials if scheme.lower() == "bearer" and credentials else None


def _closing(has_body: bool) -> dict[str, str]:
    """A refusal that leaves a body unread closes the connection (it cannot be reused)."""
    return {"Connection": "close"} if has_body else {}


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

