"""Backend specs: the defaults that depend on the backend's kind, and given values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from prefect_ibmq.server.config import BackendSpec


def test_unset_numbers_follow_the_kind_and_given_ones_win():
    specs = {spec.kind: spec for spec in BackendSpec.defaults()}
    assert (specs["ideal"].n_qubits, specs["ideal"].failure_probability) == (24, 0.0)
    assert (specs["noisy"].n_qubits, specs["noisy"].failure_probability) == (5, 0.0)
    assert (specs["flaky"].n_qubits, specs["flaky"].failure_probability) == (24, 0.2)
    given = BackendSpec.model_validate({"name": "f", "kind": "flaky", "n_qubits": 3, "failure_probability": 0.5})
    assert (given.n_qubits, given.failure_probability) == (3, 0.5)
    assert BackendSpec(name="n", kind="noisy", n_qubits=None).n_qubits == 5  # None reads as unset


def test_bad_numbers_are_refused_naming_the_field():
    with pytest.raises(ValidationError, match="n_qubits"):
        BackendSpec(name="x", n_qubits=0)
    with pytest.raises(ValidationError, match="failure_probability"):
        BackendSpec(name="x", kind="flaky", failure_probability=1.5)
