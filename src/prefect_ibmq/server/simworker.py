"""A simulator process of :mod:`.simpool`: ``python -m prefect_ibmq.server.simworker``.

Reads (function, args) pickles from stdin (a module-level function, pickled by
name: ``aerrun.simulate_qpy`` for a chunk of circuits, ``runtime.execute.run_program``
for a runtime job), calls it and answers an (ok, value) pickle per request on a
private copy of its stdout; exits at EOF (the pool shut down, or the server is gone).
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from typing import IO, Any


def main() -> None:
    """Answer requests from stdin until EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    replies: IO[bytes] = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever prints goes to stderr, never into the reply stream
    requests = sys.stdin.buffer
    import prefect_ibmq.server.aerrun  # noqa: F401  (qiskit and aer load before the first request)

    while True:
        try:
            function, args = pickle.load(requests)
        except EOFError:
            return
        try:
            reply: tuple[bool, Any] = (True, function(*args))
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
