"""Run a circuit_sweep as its own process (a test kills it with SIGKILL mid-sweep).

    python tests/reliability/sweep_script.py SWEEP_ID CIRCUITS PER_JOB BACKEND

The job service comes from PREFECT_IBMQ_URL / PREFECT_IBMQ_TOKEN, Prefect from
PREFECT_API_URL (the test's Prefect server) and PREFECT_HOME.
"""

from __future__ import annotations

import sys

from qiskit import QuantumCircuit

from prefect_ibmq.circuits import ghz

SHOTS = 32


def sweep_circuits(count: int) -> list[QuantumCircuit]:
    """The same circuits in the killed run and in the rerun."""
    circuits = []
    for index in range(count):
        circuit = ghz(2 + index % 2)
        circuit.name = f"ghz{circuit.num_qubits}_{index}"
        circuits.append(circuit)
    return circuits


def main(argv: list[str]) -> int:
    from prefect_ibmq.flows import circuit_sweep

    sweep_id, count, per_job, backend = argv[0], int(argv[1]), int(argv[2]), argv[3]
    print(f"sweep {sweep_id} starting", flush=True)
    report = circuit_sweep(sweep_circuits(count), backend_name=backend, shots=SHOTS,
                           max_experiments_per_job=per_job, max_jobs_in_flight=4, sweep_id=sweep_id)
    print(f"sweep {sweep_id} done: {len(report.job_ids)} jobs", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
