"""The flows' decorator: an async flow callable from sync code whose ``circuits`` Prefect leaves alone.

Before a flow run starts, Prefect walks every parameter looking for block
references and validates it against its annotation with pydantic: for
``circuits: list[Any] | str`` that is a step per circuit (~9 us each, ~0.1 s of a
10,000-circuit sweep) which checks nothing (any item passes ``Any``). The flows
check their circuits themselves, item by item, naming a bad one by its index
(:func:`prefect_ibmq.circuits.load_circuits`), so Prefect validates every other
parameter as usual (numbers, a saved block's reference) and passes a ``circuits``
list through as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect_ibmq.syncable import SyncCallableFlow


class CircuitsFlow(SyncCallableFlow):
    """A :class:`~prefect_ibmq.syncable.SyncCallableFlow` that does not validate a ``circuits`` list."""

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
    return lambda fn: CircuitsFlow(fn=fn, **options)
