"""Backends of the job service as qiskit backends, and ``IBMQService``, the entry point."""

from prefect_ibmq.backend.ibmqbackend import IBMQBackend
from prefect_ibmq.backend.service import IBMQService
from prefect_ibmq.exceptions import IBMQBackendError, IBMQBackendNotFoundError, IBMQBackendValueError, IBMQValueError
from prefect_ibmq.properties import BackendProperties, GateProperties, QubitProperties

__all__ = [
    "BackendProperties",
    "GateProperties",
    "IBMQBackend",
    "IBMQBackendError",
    "IBMQBackendNotFoundError",
    "IBMQBackendValueError",
    "IBMQService",
    "IBMQValueError",
    "QubitProperties",
]
