"""prefect-ibmq on IBM Quantum Platform, through the stock ``qiskit-ibm-runtime`` client.

Nothing here imports ``qiskit_ibm_runtime`` at module level; the blocks import
these modules only when an ``IBMQuantumPlatformCredentials`` block is used, so a
plain ``import prefect_ibmq`` stays light. :mod:`.local` reaches the local job
service's Qiskit Runtime API (a local IBM Quantum for dry runs).

The adapter (``platform``, ``backend``, ``job``) offers the part of the
``IBMQService`` / ``IBMQBackend`` / ``IBMQJob`` surface that the tasks and flows
use, and maps runtime jobs to ``wire.JobRecord`` (``records``). Where the
platforms differ it says so: no queue positions, no partial results, no job
names (a name is kept as a ``job_name:`` tag), no Idempotency-Key header (an
``idempotency:`` tag is looked up before any submission).
"""
