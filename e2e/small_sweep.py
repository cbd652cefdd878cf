"""The e2e's small sweep: run circuit_sweep against the Prefect server and job service in the environment.

    PREFECT_API_URL=... PREFECT_IBMQ_URL=... PREFECT_IBMQ_TOKEN=... python e2e/small_sweep.py SWEEP_ID OUTPUT_DIR

Prints one JSON line: the flow run id, sweep id, job ids and written outputs.
"""

from __future__ import annotations

import json
import sys

from prefect_ibmq.circuits import ghz_bell_set
from prefect_ibmq.flows import circuit_sweep


def main(sweep_id: str, output_dir: str) -> int:
    state = circuit_sweep(ghz_bell_set(12), max_experiments_per_job=4, shots=256, sweep_id=sweep_id,
                          output_dir=output_dir, return_state=True)
    report = state.result()
    print(json.dumps({
        "flow_run_id": str(state.state_details.flow_run_id),
        "sweep_id": report.sweep_id,
        "job_ids": report.job_ids,
        "outputs": {name: str(path) for name, path in report.outputs.items()},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
