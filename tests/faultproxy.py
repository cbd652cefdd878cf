"""A fault-injecting HTTP proxy for tests: it sits on 127.0.0.1 between a client and the job server.

Faults are chosen per request, either by rules (``drop_response`` of the next N
``POST /v1/jobs``, say) or at random at a given rate (seeded, so runs repeat):

- ``500``/``502``/``503``: answer that status without forwarding;
- ``429``: answer Too Many Requests with ``Retry-After: 0``;
- ``reset``: close the connection before forwarding anything;
- ``drop_response``: forward the request, then close the connection instead of
  answering (the hard case: the server acted, the client never heard).
"""

from __future__ import annotations

import http.client
import json
import random
import re
import socket
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULTS = ("500", "502", "503", "429", "reset", "drop_response")
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "content-length", "host"}


@dataclass
class Rule:
    """Inject ``fault`` into the next ``times`` requests matching ``method`` and the ``path`` regex."""

    fault: str
    method: str = ".*"
    path: str = ".*"
    times: int = 1


class FaultProxy:
    """Start with ``with FaultProxy(upstream_url) as proxy:``; point the client at ``proxy.url``."""

    def __init__(self, upstream: str, rate: float = 0.0, faults: tuple[str, ...] = FAULTS, seed: int = 1234) -> None:
        self.upstream = urlsplit(upstream)
        self.rate, self.faults = rate, faults
        self.rules: list[Rule] = []
        self.injected: Counter[str] = Counter()
        self.forwarded = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_rule(self, rule: Rule) -> None:
        with self._lock:
            self.rules.append(rule)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def choose_fault(self, method: str, path: str) -> str | None:
        with self._lock:
            for rule in self.rules:
                if rule.times > 0 and re.fullmatch(rule.method, method) and re.match(rule.path, path):
                    rule.times -= 1
                    self.injected[rule.fault] += 1
                    return rule.fault
            # Health checks stay clean so a test can always tell the proxy itself is up.
            if self.rate and not path.startswith("/v1/health") and self._random.random() < self.rate:
                fault = self._random.choice(self.faults)
                self.injected[fault] += 1
                return fault
            return None

    def _handler_class(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                fault = proxy.choose_fault(self.command, self.path)
                if fault == "reset":
                    self._abort()
                    return
                if fault in ("500", "502", "503", "429"):
                    self._answer_fault(int(fault))
                    return
                status, headers, payload = self._forward(body)
                if fault == "drop_response":
                    self._abort()
                    return
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in _HOP_HEADERS:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _forward(self, body: bytes | None) -> tuple[int, list[tuple[str, str]], bytes]:
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=120)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    payload = response.read()
                    with proxy._lock:
                        proxy.forwarded += 1
                    return response.status, response.getheaders(), payload
                finally:
                    conn.close()

            def _answer_fault(self, status: int) -> None:
                payload = json.dumps({"code": "INJECTED", "message": f"fault proxy injected {status}"}).encode()
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _abort(self) -> None:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay

        return Handler
