"""The job service's Qiskit Runtime REST API: the subset the stock ``qiskit-ibm-runtime`` client uses.

Served beside ``/v1`` by the same app, on the same store, queue, identities and
simulator processes (see docs/runtime-api.md). Routers by resource: :mod:`.iam`,
:mod:`.discovery`, :mod:`.backends`, :mod:`.jobs`, :mod:`.sessions`; programs in
:mod:`.programs`. :func:`.app.install` adds them to an app.
"""
