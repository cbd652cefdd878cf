"""A simulator process of :mod:`.simpool`: ``python -m prefect_ibmq.server.simworker [WARM]``.

Warms up what its argument names (:func:`.simprocs.warm_argument`: each backend's aer,
built and run once; a noisy one's in a thread, while it already takes requests), answers ``(True, pid)`` on a
private copy of its stdout to say it is ready, then reads (function, args) pickles from stdin (a module-level function,
pickled by name: ``aerrun.simulate_qpy`` for a chunk of circuits,
``runtime.execute.run_program`` for a runtime job), calls it and answers an
(ok, value) pickle per request; exits at EOF (the pool shut down, or the server is gone).
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import sys
import threading
from typing import IO, Any


def main() -> None:
    """Warm up, say so, then answer requests from stdin until EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    replies: IO[bytes] = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever prints goes to stderr, never into the reply stream
    requests = sys.stdin.buffer
    from prefect_ibmq.server import aerrun  # qiskit and aer load before the first request

    ready: tuple[bool, Any] = (True, os.getpid())
    try:
        warm: dict[str, Any] = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {"backends": [], "threads": 1}
        # Ideal backends cost nothing to build: ready once they ran. A noisy backend's noise model
        # (~0.5 s) is built meanwhile in a thread, for this (the main) thread's chunks: a chunk that
        # comes first is not held up by it (it builds its own if it needs one sooner).
        noisy = [spec for spec in warm["backends"] if spec.get("kind") == "noisy"]
        aerrun.warm_up([spec for spec in warm["backends"] if spec not in noisy], warm["threads"])
        if noisy:
            threading.Thread(target=_warm_quietly, args=(aerrun, noisy, warm["threads"], threading.get_ident()),
                             name="warm-up", daemon=True).start()
    except Exception as exc:  # a chunk builds what it needs all the same
        ready = (False, RuntimeError(f"warming up failed: {exc}"))
    _answer(replies, ready)
    while True:
        try:
            function, args = pickle.load(requests)
        except EOFError:
            # Nothing is left to flush; tearing qiskit and aer down would take ~1 s of the server's stop.
            os._exit(0)
        try:
            reply: tuple[bool, Any] = (True, function(*args))
        except Exception as exc:
            reply = (False, exc)
        _answer(replies, reply)


def _warm_quietly(aerrun: Any, backends: list[dict[str, Any]], threads: int, for_thread: int) -> None:
    try:
        aerrun.warm_up(backends, threads, for_thread)
    except Exception as exc:
        print(f"simulator process {os.getpid()}: warming up failed: {exc}", file=sys.stderr)


def _answer(replies: IO[bytes], reply: tuple[bool, Any]) -> None:
    try:
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # an exception (or value) that does not pickle
        data = pickle.dumps((False, RuntimeError(f"{reply[1]!r} (unpicklable: {exc})")))
    replies.write(data)
    replies.flush()


if __name__ == "__main__":
    main()
