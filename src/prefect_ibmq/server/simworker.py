"""A simulator process of :mod:`.simpool`: ``python -m prefect_ibmq.server.simworker``.

Reads (spec, threads, qpy, run_options) pickles from stdin and answers an
(ok, value) pickle per request on a private copy of its stdout; exits at EOF
(the pool shut down, or the server is gone).
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from typing import IO, Any


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    replies: IO[bytes] = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever prints goes to stderr, never into the reply stream
    requests = sys.stdin.buffer
    from prefect_ibmq.server.simulators import simulate_qpy

    while True:
        try:
            args = pickle.load(requests)
        except EOFError:
            return
        try:
            reply: tuple[bool, Any] = (True, simulate_qpy(*args))
        except Exception as exc:
            reply = (False, exc)
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # an exception (or value) that does not pickle
            data = pickle.dumps((False, RuntimeError(f"{reply[1]!r} (unpicklable: {exc})")))
        replies.write(data)
        replies.flush()


if __name__ == "__main__":
    main()
