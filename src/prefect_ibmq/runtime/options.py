"""``RuntimeOptions``: what a submission to IBM Quantum Platform needs beyond the legacy job's fields."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class RuntimeOptions(BaseModel):
    """How ``submit_job`` runs a job on IBM Quantum Platform (a prefect-ibmq job service refuses them).

    Attributes:
        program: ``sampler`` (PUBs or plain circuits -> counts), ``estimator`` (PUBs -> expectation values),
            or ``executor``: either of the two through the client's executor-based ``Sampler`` /
            ``Estimator`` (qiskit-ibm-runtime 0.50+), chosen by the items (estimator PUBs carry observables).
        optimization_level: Preset pass manager level (0-3) used to map circuits to the backend's ISA;
            None sends them as they are (they must already be ISA circuits).
        session_id: The open batch or session to run in (flows open one: see ``execution_mode``).
        mode: What ``session_id`` is: ``batch`` or ``session``; ``job`` when there is none.
        precision: The estimator's target precision (its default when None).
        primitive_options: Further options of the primitive, as ``SamplerV2``/``EstimatorV2`` take them
            (with ``executor``: as the executor-based ``Sampler``/``Estimator`` take them).
    """

    model_config = ConfigDict(extra="forbid")

    program: str = "sampler"
    optimization_level: int | None = Field(default=1, ge=0, le=3)
    session_id: str | None = None
    mode: Literal["job", "batch", "session"] = "job"
    precision: float | None = Field(default=None, gt=0)
    primitive_options: dict[str, Any] = Field(default_factory=dict)

    def run_arguments(self) -> dict[str, Any]:
        """Keyword arguments of a submission to IBM Quantum Platform for these options."""
        options = dict(self.primitive_options)
        if self.precision is not None:
            options["precision"] = self.precision
        return dict(program=self.program, optimization_level=self.optimization_level,
                    session_id=self.session_id, session_mode=self.mode if self.session_id else None,
                    options=options)
