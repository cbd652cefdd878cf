"""prefect-ibmq: quantum jobs as first-class Prefect work.

The names here are the client's: ``IBMQService`` is the entry point; Prefect
tasks and flows live in ``prefect_ibmq.tasks`` and ``prefect_ibmq.flows``. The
blocks are named here too (but left out of ``__all__``, so ``from prefect_ibmq import *``
does not import Prefect). Every name is imported when first asked for, so
``prefect block register -m prefect_ibmq`` finds the blocks while a plain
``import prefect_ibmq`` stays free of Prefect (and of qiskit, until a client name is used).
``__version__`` is the installed distribution's version.
"""

from importlib import import_module
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prefect_ibmq.backend import IBMQBackend, IBMQService
    from prefect_ibmq.exceptions import (
        IBMQJobApiError,
        IBMQJobError,
        IBMQJobFailureError,
        IBMQJobInvalidStateError,
        IBMQJobTimeoutError,
        IBMQValueError,
    )
    from prefect_ibmq.job import ApiJobStatus, IBMQJob, QueueInfo

    __version__: str

__all__ = [
    "ApiJobStatus",
    "IBMQBackend",
    "IBMQJob",
    "IBMQJobApiError",
    "IBMQJobError",
    "IBMQJobFailureError",
    "IBMQJobInvalidStateError",
    "IBMQJobTimeoutError",
    "IBMQService",
    "IBMQValueError",
    "QueueInfo",
    "__version__",
]

#: Where each public name lives. They are imported on first use (qiskit takes ~1 s to
#: import, Prefect more), so `prefect-ibmq --help` and the submodules that need neither stay fast.
_HOMES = {
    "ApiJobStatus": "prefect_ibmq.job",
    "IBMQBackend": "prefect_ibmq.backend",
    "IBMQJob": "prefect_ibmq.job",
    "IBMQJobApiError": "prefect_ibmq.exceptions",
    "IBMQJobError": "prefect_ibmq.exceptions",
    "IBMQJobFailureError": "prefect_ibmq.exceptions",
    "IBMQJobInvalidStateError": "prefect_ibmq.exceptions",
    "IBMQJobTimeoutError": "prefect_ibmq.exceptions",
    "IBMQService": "prefect_ibmq.backend",
    "IBMQValueError": "prefect_ibmq.exceptions",
    "QueueInfo": "prefect_ibmq.job",
    "IBMQJobBlock": "prefect_ibmq.blocks",
    "IBMQServiceCredentials": "prefect_ibmq.blocks",
    "IBMQuantumPlatformCredentials": "prefect_ibmq.blocks",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562)."""
    if name == "__version__":
        value: Any = version("prefect-ibmq")
    elif name in _HOMES:
        value = getattr(import_module(_HOMES[name]), name)
    else:
        raise AttributeError(f"module 'prefect_ibmq' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    """The module's names, the ones not imported yet included."""
    return sorted({*globals(), *_HOMES, "__version__"})
