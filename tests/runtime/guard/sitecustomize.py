"""Loaded at start-up by every Python process whose PYTHONPATH starts with this folder.

Name resolution refuses every host but loopback and appends each refused host to the
file named by $RUNTIME_GUARD_LOG; every HTTP request ``requests`` sends is appended
there too ("request METHOD URL"). The tests read that file: the proof that the stock
client reached nothing but the local service, and the request sequence it made.
"""

import os
import socket

_LOOPBACK = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}
_resolve = socket.getaddrinfo


def _record(line: str) -> None:
    with open(os.environ["RUNTIME_GUARD_LOG"], "a", encoding="utf-8") as log:
        log.write(line + "\n")


def _loopback_only(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and str(name) not in _LOOPBACK and not str(name).startswith("127."):
        _record(f"refused {name}")
        raise socket.gaierror(socket.EAI_NONAME, f"{name}: name resolution refused (loopback only)")
    return _resolve(host, *args, **kwargs)


def _install() -> None:
    if not os.environ.get("RUNTIME_GUARD_LOG"):
        return
    socket.getaddrinfo = _loopback_only
    socket.gethostbyname = lambda host: _loopback_only(host, None)[0][4][0]
    try:
        import requests.sessions
    except ImportError:
        return
    send = requests.sessions.Session.send

    def recording_send(self, request, **kwargs):
        _record(f"request {request.method} {request.url}")
        return send(self, request, **kwargs)

    requests.sessions.Session.send = recording_send


_install()
