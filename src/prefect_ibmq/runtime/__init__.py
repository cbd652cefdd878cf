"""IBM Quantum Platform through the stock ``qiskit-ibm-runtime`` client: what its platform is built from.

:class:`~prefect_ibmq.platforms.ibm_quantum.IBMQuantumPlatform` (the ``JobPlatform``)
uses these: :mod:`.connect` builds the stock ``QiskitRuntimeService`` once per
account; :mod:`.records` maps runtime job documents to ``wire.JobRecord`` (no queue
positions, no partial results, names and idempotency keys kept as tags);
:mod:`.programs` holds one module per Qiskit Runtime program (``sampler``,
``estimator``, ``executor``: the client's executor-based primitives); :mod:`.results`
turns sampler results into the legacy ``Result``;
:mod:`.errors` maps the client's failures to this package's; :mod:`.options` is
``RuntimeOptions``; :mod:`.local` reaches a prefect-ibmq job service's Qiskit Runtime
API (a local IBM Quantum for dry runs). Nothing here imports ``qiskit_ibm_runtime``
at module level, so a plain ``import prefect_ibmq`` stays light.
"""
