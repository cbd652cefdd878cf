"""The flows' decorator: an async flow callable from sync code whose ``circuits`` Prefect leaves alone.

Before a flow run starts, Prefect walks every parameter twice, item by item: for
futures and states to resolve, then for block references, before it validates
the parameter against its annotation with pydantic. For ``circuits: list[Any] |
str`` that is ~15 us per circuit (~0.15 s of a 10,000-circuit sweep) which finds
nothing and checks nothing (any item passes ``Any``). The flows check their
circuits themselves, item by item, naming a bad one by its index
(:func:`prefect_ibmq.circuits.load_circuits`). So a ``circuits`` list is passed to
Prefect as ``quote(circuits)`` (its documented way to skip walking a large
collection; Prefect unwraps it before the flow function runs), and Prefect
validates every other parameter as usual (numbers, a saved block's reference).
A flow run's ``circuits`` parameter shows as ``<quote>`` in the UI, as a list of
circuits showed as ``<list>`` before: neither can be stored as JSON.

The flow function's annotations are resolved when it is decorated: ``flow.serve()``
and ``flow.deploy()`` ship the function to the runner by value (cloudpickle), with
only the globals its body names, so a string annotation such as ``ServiceCredentials``
could no longer be resolved there (``Circuit_SweepModel is not fully defined``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from prefect.utilities.annotations import quote

from prefect_ibmq.syncable import SyncCallableFlow


class CircuitsFlow(SyncCallableFlow):
    """A :class:`~prefect_ibmq.syncable.SyncCallableFlow` that neither walks nor validates a ``circuits`` list."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the flow (see :mod:`prefect_ibmq.syncable`) with a ``circuits`` list quoted."""
        position = list(inspect.signature(self.fn).parameters).index("circuits")
        if len(args) > position and isinstance(args[position], list):
            args = (*args[:position], quote(args[position]), *args[position + 1:])
        elif isinstance(kwargs.get("circuits"), list):
            kwargs["circuits"] = quote(kwargs["circuits"])
        return super().__call__(*args, **kwargs)

    def validate_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """Prefect's validation of every parameter but a ``circuits`` list, which is passed on unchanged."""
        circuits = parameters.get("circuits")
        if not isinstance(circuits, list):
            return super().validate_parameters(parameters)
        validated = super().validate_parameters({**parameters, "circuits": []})
        validated["circuits"] = circuits
        return validated


def circuits_flow(**options: Any) -> Callable[[Callable[..., Any]], CircuitsFlow]:
    """``@flow(**options)`` for an ``async def`` taking ``circuits``, callable from sync code too."""

    def decorate(fn: Callable[..., Any]) -> CircuitsFlow:
        fn.__annotations__ = inspect.get_annotations(fn, eval_str=True)
        return CircuitsFlow(fn=fn, **options)

    return decorate
