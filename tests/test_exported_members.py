"""The public surface of ``prefect_ibmq``: what it exports, from where, and lazily.

A name added to or dropped from the package's surface must be added to or dropped from
these lists too, so that the change is a decision and not an accident.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import pytest

import prefect_ibmq

PUBLIC = {
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
}
#: Exported too, but not by ``import *``: they import Prefect.
BLOCKS = {
    "IBMQJobBlock": "prefect_ibmq.blocks",
    "IBMQServiceCredentials": "prefect_ibmq.blocks",
    "IBMQuantumPlatformCredentials": "prefect_ibmq.blocks",
}


def test_all_lists_the_public_names_and_the_version() -> None:
    assert prefect_ibmq.__all__ == [*sorted(PUBLIC), "__version__"]


@pytest.mark.parametrize("name", sorted({**PUBLIC, **BLOCKS}))
def test_each_name_is_the_object_of_its_home_module(name: str) -> None:
    home = {**PUBLIC, **BLOCKS}[name]
    assert getattr(prefect_ibmq, name) is getattr(importlib.import_module(home), name)
    assert name in dir(prefect_ibmq)


def test_nothing_else_is_exported_lazily() -> None:
    assert prefect_ibmq._HOMES == {**PUBLIC, **BLOCKS}
    with pytest.raises(AttributeError, match="'NoSuchName'"):
        _ = prefect_ibmq.NoSuchName


def test_version_is_the_installed_distributions() -> None:
    assert prefect_ibmq.__version__ == importlib.metadata.version("prefect-ibmq")
    assert prefect_ibmq.__version__[0].isdigit()


def test_the_blocks_are_prefect_blocks() -> None:
    from prefect.blocks.core import Block

    assert all(issubclass(getattr(prefect_ibmq, name), Block) for name in BLOCKS)


def test_names_are_imported_only_when_asked_for() -> None:
    # In a fresh interpreter (this one has imported everything already): the package and its
    # version load neither Prefect nor qiskit; ``import *`` loads qiskit (the client) but not Prefect.
    probe = (
        "import json, sys\n"
        "loaded = lambda: sorted(m for m in ('prefect', 'qiskit') if m in sys.modules)\n"
        "import prefect_ibmq\n"
        "steps = [loaded()]\n"
        "from prefect_ibmq import __version__\n"
        "steps.append(loaded())\n"
        "from prefect_ibmq import *\n"
        "steps.append(loaded())\n"
        "print(json.dumps(steps))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [[], [], ["qiskit"]]
