"""Prefect blocks: credentials for a job service or IBM Quantum Platform, and a job you can trigger.

``IBMQServiceCredentials`` names a job service (URL + ``SecretStr`` token) or, with
no URL, the embedded default. ``IBMQuantumPlatformCredentials`` names an IBM
Quantum Platform account (API key and instance CRN) reached with the stock
``qiskit-ibm-runtime`` client, imported only when such a block is used. Every
task's and flow's ``service`` accepts either: ``get_client()`` gives the platform's own
client, ``platform()`` the :class:`~prefect_ibmq.platforms.JobPlatform` the tasks and
flows call (see :mod:`prefect_ibmq.platforms`).
``IBMQJobBlock.trigger()`` submits a job and returns an ``IBMQJobRun`` with
``wait_for_completion()`` and ``fetch_result()``, as prefect-dbt's dbt Cloud job does.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

import anyio
from prefect.blocks.abstract import CredentialsBlock, JobBlock, JobRun
from pydantic import Field, HttpUrl, SecretStr, model_validator
from qiskit.result import Result

from prefect_ibmq.backend import IBMQService
from prefect_ibmq.circuits import load_circuits
from prefect_ibmq.job import IBMQJob
from prefect_ibmq.job.status import log_job_status
from prefect_ibmq.platforms.jobservice import JobServicePlatform, job_service_platform, shared_client

if TYPE_CHECKING:
    from prefect_ibmq.platforms.ibm_quantum import IBMQuantumPlatform

#: The blocks' logo in the Prefect UI: the Qiskit organisation's square avatar on GitHub.
LOGO_URL = HttpUrl("https://github.com/Qiskit.png")
#: The blocks' documentation: the README (section "Prefect"). Prefect accepts only http(s) URLs here
#: (its BlockType validates them), so not a path under docs/; offline, the same text is the installed
#: package's description: ``importlib.metadata.metadata("prefect-ibmq")["Description"]``.
DOCUMENTATION_URL = HttpUrl("https://pypi.org/project/prefect-ibmq/")


class IBMQServiceCredentials(CredentialsBlock):
    """Where a job service runs and the token to use there.

    With no ``url`` it means the embedded default (the job service started in
    this process on 127.0.0.1, its database under ``data_dir``).

    Examples:
        Load saved credentials and list the service's backends:
        ```python
        from prefect_ibmq.blocks import IBMQServiceCredentials

        credentials = IBMQServiceCredentials.load("BLOCK_NAME")
        print([backend.name for backend in credentials.get_client().backends()])
        ```

        Save credentials for a job service, then pass them to a task or flow:
        ```python
        from prefect_ibmq.blocks import IBMQServiceCredentials
        from prefect_ibmq.flows import run_circuits

        IBMQServiceCredentials(url="http://127.0.0.1:8765", token="s3cret").save("my-service")
        run_circuits(circuits, service=IBMQServiceCredentials.load("my-service"))
        ```
    """

    _block_type_name = "IBMQ Service Credentials"
    _block_type_slug = "ibmq-service-credentials"
    _description = "URL and token of a prefect-ibmq job service."
    _logo_url = LOGO_URL
    _documentation_url = DOCUMENTATION_URL

    url: str | None = Field(default=None, description="Job service URL; empty for the embedded default.")
    token: SecretStr | None = Field(default=None, description="Bearer token of your identity on that service.")
    data_dir: str | None = Field(default=None, description="Data folder of the embedded default.")

    def get_client(self) -> IBMQService:
        """The service these credentials name.

        Returns:
            This process's one ``IBMQService`` for that service and token (the embedded
            default is started on first use).
        """
        token = self.token.get_secret_value() if self.token else None
        return shared_client(self.url, token, self.data_dir)

    def platform(self) -> JobServicePlatform:
        """The job service as the tasks and flows use it.

        Returns:
            This process's one ``JobServicePlatform`` of ``get_client()``.
        """
        return job_service_platform(self.get_client())


class IBMQuantumPlatformCredentials(CredentialsBlock):
    """An IBM Quantum Platform account: API key and instance CRN (and where the platform is).

    With ``url_resolver="prefect-ibmq"`` and ``url`` set, it is a prefect-ibmq job
    service that serves the Qiskit Runtime API: a local IBM Quantum for dry runs.

    Examples:
        Load a saved account:
        ```python
        from prefect_ibmq.blocks import IBMQuantumPlatformCredentials

        credentials = IBMQuantumPlatformCredentials.load("BLOCK_NAME")
        ```

        Run a sweep on IBM Quantum Platform:
        ```python
        from prefect_ibmq.blocks import IBMQuantumPlatformCredentials
        from prefect_ibmq.flows import circuit_sweep

        credentials = IBMQuantumPlatformCredentials(token="<api key>", instance="crn:v1:bluemix:...")
        circuit_sweep(circuits, backend_name="ibm_torino", service=credentials)
        ```
    """

    _block_type_name = "IBM Quantum Platform Credentials"
    _block_type_slug = "ibm-quantum-platform-credentials"
    _description = "API key and instance CRN of an IBM Quantum Platform account (qiskit-ibm-runtime)."
    _logo_url = LOGO_URL
    _documentation_url = DOCUMENTATION_URL

    token: SecretStr = Field(description="IBM Cloud API key (or a prefect-ibmq token for a local service).")
    instance: str | None = Field(
        default=None, pattern=r"^crn:",
        description="Instance CRN, crn:v1:...; a prefect-ibmq service tells its token's when left empty.",
    )
    url: str | None = Field(default=None, description="Platform URL; empty for IBM's default.")
    url_resolver: Literal["ibm-cloud", "prefect-ibmq"] = Field(
        default="ibm-cloud",
        description="ibm-cloud: IBM's service; prefect-ibmq: a prefect-ibmq job service at url (dry runs).",
    )

    @model_validator(mode="after")
    def _where_and_which_instance(self) -> IBMQuantumPlatformCredentials:
        if self.url_resolver == "prefect-ibmq" and not self.url:
            raise ValueError("url_resolver='prefect-ibmq' needs the url of a prefect-ibmq job service")
        if self.url_resolver == "ibm-cloud" and not self.instance:
            raise ValueError("instance is required on IBM Cloud: the CRN of your IBM Quantum Platform instance")
        return self

    def get_client(self) -> Any:
        """The stock client of the account these credentials name.

        Returns:
            This process's one ``qiskit_ibm_runtime.QiskitRuntimeService`` for this account
            (connecting costs several requests).

        Raises:
            IBMQJobApiError: If the platform could not be reached (worth retrying).
        """
        from prefect_ibmq.runtime.connect import runtime_service

        return runtime_service(self.token.get_secret_value(), self.instance, self.url, self.url_resolver)

    def platform(self) -> IBMQuantumPlatform:
        """IBM Quantum Platform as the tasks and flows use it.

        Returns:
            This process's one ``IBMQuantumPlatform`` of ``get_client()``.

        Raises:
            IBMQJobApiError: If the platform could not be reached (worth retrying).
        """
        from prefect_ibmq.platforms.ibm_quantum import ibm_quantum_platform

        return ibm_quantum_platform(self.get_client(), self.url, local=self.url_resolver == "prefect-ibmq")


#: What a task's or flow's ``service`` argument accepts.
ServiceCredentials = IBMQServiceCredentials | IBMQuantumPlatformCredentials


class IBMQJobRun(JobRun[Result]):
    """A submitted job: wait for it, then fetch its result."""

    def __init__(self, job: IBMQJob, timeout: float | None = None, partial: bool = True) -> None:
        self.job = job
        self.timeout = timeout
        self.partial = partial

    # Prefect's JobRun annotates this "-> Logger" by mistake; nothing returns or reads a value.
    async def wait_for_completion(self) -> None:  # type: ignore[override]
        """Wait for a final state, logging each change.

        Raises:
            IBMQJobTimeoutError: If the run's ``timeout`` passes first.
        """

        def log_change(job_id: str, status: Any, job: IBMQJob, queue_info: Any = None) -> None:
            log_job_status(self.logger, logging.INFO, job_id, status.name, queue_info and queue_info.position)

        await anyio.to_thread.run_sync(lambda: self.job.wait_for_final_state(self.timeout, None, log_change))

    async def fetch_result(self) -> Result:
        """The job's result.

        Returns:
            The ``Result``; with ``partial`` (the default) it holds the experiments of a failed job that did run.

        Raises:
            IBMQJobInvalidStateError: If the job was cancelled or is not final.
            IBMQJobFailureError: If the job failed and ``partial`` is False (or nothing ran).
        """
        return await anyio.to_thread.run_sync(lambda: self.job.result(partial=self.partial))


class IBMQJobBlock(JobBlock[Result]):
    """A job of OpenQASM circuits on a backend, ready to be triggered.

    Examples:
        Load a saved job, run it and fetch its result:
        ```python
        from prefect import flow
        from prefect_ibmq.blocks import IBMQJobBlock

        @flow
        async def run_saved_job():
            job_block = IBMQJobBlock.load("BLOCK_NAME")
            run = await job_block.trigger()
            await run.wait_for_completion()
            return (await run.fetch_result()).get_counts()
        ```
    """

    _block_type_name = "IBMQ Job"
    _block_type_slug = "ibmq-job"
    _description = "A job of circuits for a prefect-ibmq job service."
    _logo_url = LOGO_URL
    _documentation_url = DOCUMENTATION_URL

    credentials: IBMQServiceCredentials = Field(
        default_factory=IBMQServiceCredentials, description="The job service to run on; default: the embedded one."
    )
    backend_name: str = Field(default="aer_simulator", description="The backend to run the circuits on.")
    circuits: list[str] = Field(description="OpenQASM 2/3 texts or paths/globs of .qasm files.")
    shots: int = Field(default=1024, description="Shots per circuit, 1 to the backend's max_shots.")
    job_name: str | None = Field(default=None, description="A name for the job.")
    job_tags: list[str] = Field(default_factory=list, description="Tags for the job.")
    timeout: float | None = Field(default=None, description="Seconds to wait for a final state (>= 0).")

    async def trigger(self) -> IBMQJobRun:
        """Submit the job.

        Returns:
            The job's run: ``await run.wait_for_completion()``, then ``await run.fetch_result()``.

        Raises:
            IBMQBackendValueError: If the circuits do not fit the backend (nothing is submitted).
            IBMQJobApiError: If the service could not be reached.
        """

        def submit() -> IBMQJob:
            backend = self.credentials.get_client().backend(self.backend_name)
            return backend.run(
                load_circuits(self.circuits), shots=self.shots, job_name=self.job_name, job_tags=self.job_tags
            )

        job = await anyio.to_thread.run_sync(submit)
        self.logger.info("Submitted job %s to %s", job.job_id(), self.backend_name)
        return IBMQJobRun(job, timeout=self.timeout)
