"""``BackendProperties``: the noise a backend publishes (qiskit 2 has no such class any more).

Below both the backends and the jobs, which return it from ``properties()``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class QubitProperties(BaseModel):
    """Noise of one qubit; times in seconds, frequency in Hz; None when unknown."""

    model_config = ConfigDict(frozen=True)

    qubit: int
    t1: float | None = None
    t2: float | None = None
    frequency: float | None = None
    readout_error: float | None = None
    readout_length: float | None = None


class GateProperties(BaseModel):
    """Error and duration (seconds) of one gate on the qubits it acts on."""

    model_config = ConfigDict(frozen=True)

    gate: str
    qubits: tuple[int, ...]
    error: float | None = None
    duration: float | None = None


class BackendProperties(BaseModel):
    """The published noise of a noisy backend, with the legacy provider's look-ups."""

    model_config = ConfigDict(frozen=True)

    backend_name: str
    qubits: tuple[QubitProperties, ...] = ()
    gates: tuple[GateProperties, ...] = ()

    @classmethod
    def from_published(cls, backend_name: str, published: dict[str, Any]) -> BackendProperties:
        """From the ``properties`` dict of a backend configuration."""
        return cls(backend_name=backend_name, qubits=published.get("qubits", ()), gates=published.get("gates", ()))

    def qubit_property(self, qubit: int) -> QubitProperties:
        """The properties of ``qubit``; KeyError names the known qubits when it has none."""
        for entry in self.qubits:
            if entry.qubit == qubit:
                return entry
        raise KeyError(f"{self.backend_name} publishes no properties for qubit {qubit}; known: "
                       f"{[entry.qubit for entry in self.qubits]}")

    def t1(self, qubit: int) -> float | None:
        """T1 of ``qubit`` in seconds."""
        return self.qubit_property(qubit).t1

    def t2(self, qubit: int) -> float | None:
        """T2 of ``qubit`` in seconds."""
        return self.qubit_property(qubit).t2

    def frequency(self, qubit: int) -> float | None:
        """Frequency of ``qubit`` in Hz."""
        return self.qubit_property(qubit).frequency

    def readout_error(self, qubit: int) -> float | None:
        """Probability that measuring ``qubit`` reads the wrong value."""
        return self.qubit_property(qubit).readout_error

    def gate_property(self, gate: str, qubits: int | list[int] | tuple[int, ...]) -> GateProperties:
        """The properties of ``gate`` on ``qubits``; KeyError when it is not published."""
        wanted = (qubits,) if isinstance(qubits, int) else tuple(qubits)
        for entry in self.gates:
            if entry.gate == gate and entry.qubits == wanted:
                return entry
        raise KeyError(f"{self.backend_name} publishes no properties for {gate} on qubits {list(wanted)}")

    def gate_error(self, gate: str, qubits: int | list[int] | tuple[int, ...]) -> float | None:
        """Error rate of ``gate`` on ``qubits``."""
        return self.gate_property(gate, qubits).error

    def gate_length(self, gate: str, qubits: int | list[int] | tuple[int, ...]) -> float | None:
        """Duration of ``gate`` on ``qubits`` in seconds."""
        return self.gate_property(gate, qubits).duration

    def readout_length(self, qubit: int) -> float | None:
        """Duration of measuring ``qubit`` in seconds."""
        return self.qubit_property(qubit).readout_length

    def faulty_qubits(self) -> list[int]:
        """Qubits out of order (as the legacy provider says; mthree reads it): none on a simulator."""
        return []
