"""Server configuration: identities (tokens), backends, workers, limits.

Read from Python (tests), from a TOML/JSON file (``prefect-ibmq server --config``),
or made by :meth:`ServerConfig.default`, whose single local token is generated
once and kept in the data directory so it survives restarts.
"""

from __future__ import annotations

import json
import os
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from prefect_ibmq.wire import Identity

from .limits import Limits
from .runtime.settings import RuntimeSettings

BackendKind = Literal["ideal", "noisy", "flaky"]
TOKEN_FILE = "local-token"
LOCAL_IDENTITY = Identity(user="local", hub="local", group="local", project="local")


class BackendSpec(BaseModel):
    """One simulated backend the server offers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: BackendKind = "ideal"
    n_qubits: int = Field(24, ge=1, description="when unset: 5 if noisy, else 24")
    max_experiments: int = Field(300, ge=1)
    max_shots: int = Field(100_000, ge=1)
    failure_probability: float = Field(0.0, ge=0.0, le=1.0, description="when unset: 0.2 if flaky, else 0")
    #: Test knob: every experiment takes at least this long (a cancel interrupts the wait).
    experiment_delay_s: float = Field(0.0, ge=0.0)
    #: noisy: the seed of its GenericBackendV2 noise. flaky: makes the failure draws
    #: reproducible: they then follow from this seed and the job's name, not from its
    #: random id (unset, each job draws at random).
    seed: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _fill_kind_defaults(cls, data: Any) -> Any:
        # Defaults that depend on kind are filled in before validation (unset or None alike),
        # so the fields hold plain numbers, validated like any given value.
        if not isinstance(data, dict):
            return data
        filled = dict(data)
        kind = filled.get("kind", "ideal")
        if filled.get("n_qubits") is None:
            filled["n_qubits"] = 5 if kind == "noisy" else 24
        if filled.get("failure_probability") is None:
            filled["failure_probability"] = 0.2 if kind == "flaky" else 0.0
        return filled

    @classmethod
    def defaults(cls) -> list[BackendSpec]:
        """The three backends a server offers when its config names none."""
        return [
            cls(name="aer_simulator", kind="ideal"),
            cls(name="noisy_simulator", kind="noisy"),
            cls(name="flaky_simulator", kind="flaky"),
        ]


class ServerConfig(BaseModel):
    """Everything a :class:`~prefect_ibmq.server.JobServer` needs."""

    model_config = ConfigDict(extra="forbid")

    data_dir: Path
    #: The job store: None for a SQLite file in ``data_dir`` (one server); a SQLAlchemy URL
    #: ``postgresql+psycopg://user@host:port/db`` for a database several replicas share.
    store_url: str | None = None
    #: Seconds a replica's lease lasts; it is renewed every third of that. A replica gone
    #: without giving it back has its running jobs requeued once it runs out.
    lease_s: float = Field(15.0, gt=0.0)
    #: token -> identity; tokens never appear in logs or answers.
    tokens: dict[str, Identity] = Field(default_factory=dict)
    backends: list[BackendSpec] = Field(default_factory=BackendSpec.defaults)
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    #: Where aer simulates: a pool of ``workers`` processes (made on the first run), so
    #: jobs simulate in parallel and off the server's GIL; or the worker threads
    #: themselves (no extra processes: tests, tiny deployments); or the workers of the Dask
    #: scheduler at ``dask_scheduler`` (simulation spread over machines; :mod:`.dasksim`).
    simulation: Literal["processes", "threads", "dask"] = "processes"
    #: The Dask scheduler of ``simulation = "dask"``, e.g. ``tcp://10.0.0.5:8786``.
    dask_scheduler: str | None = None
    #: Start the simulator processes with the server rather than at its first job,
    #: which otherwise waits ~1 s for them to import qiskit. On for a long-running
    #: service (the embedded default, ``prefect-ibmq server``); off by default so
    #: servers that never run a job (many in tests) start none.
    prestart_simulators: bool = False
    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)
    #: The largest body of a job submission (``POST /v1/jobs``, ``POST /api/v1/jobs``).
    max_body_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    #: Every other bound on requests, jobs and identities (``[limits]``; see :mod:`.limits`).
    limits: Limits = Field(default_factory=Limits)
    #: The Qiskit Runtime API's instances (region, name, plan limit) (its bounds are in ``limits``).
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)

    @model_validator(mode="after")
    def _known_store_url(self) -> ServerConfig:
        url = self.store_url
        if url is not None and not url.startswith(("sqlite:///", "postgresql+psycopg://")):
            raise ValueError(
                f"store_url must start with sqlite:/// or postgresql+psycopg://, not {url.split(':', 1)[0]!r}"
            )
        return self

    @model_validator(mode="after")
    def _unique_backend_names(self) -> ServerConfig:
        names = [spec.name for spec in self.backends]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"backend names must be unique; repeated: {duplicates}")
        if not self.backends:
            raise ValueError("at least one backend is required")
        return self

    @model_validator(mode="after")
    def _dask_scheduler_with_dask_only(self) -> ServerConfig:
        if self.simulation == "dask" and not self.dask_scheduler:
            raise ValueError('simulation="dask" needs dask_scheduler, the address of a Dask scheduler')
        if self.dask_scheduler and self.simulation != "dask":
            raise ValueError(
                f'dask_scheduler={self.dask_scheduler!r} is only used with simulation="dask", '
                f"not simulation={self.simulation!r}"
            )
        return self

    @classmethod
    def default(cls, data_dir: Path | str, **overrides: Any) -> ServerConfig:
        """One local identity whose token is made once and kept in ``data_dir`` (mode 0600)."""
        data_dir = Path(data_dir)
        token = load_or_create_token(data_dir)
        overrides.setdefault("prestart_simulators", True)
        return cls(data_dir=data_dir, tokens={token: LOCAL_IDENTITY}, **overrides)

    @classmethod
    def from_file(cls, path: Path | str, **overrides: Any) -> ServerConfig:
        """Read a TOML or JSON file: ``data_dir``, ``tokens``, ``backends``, ``workers``, ...

        ``tokens`` maps each token to ``{user, hub, group, project}``; ``backends`` is a
        list of :class:`BackendSpec` fields. ``overrides`` (e.g. from the command line) win.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".toml", ".json"):
            raise ValueError(f"config file must end in .toml or .json, not {path.name!r}")
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
        raw.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" in raw:
            # A relative data_dir is relative to the config file, not to the working directory.
            raw["data_dir"] = (path.parent / Path(raw["data_dir"]).expanduser()).resolve()
        return cls.model_validate(raw)


def load_or_create_token(data_dir: Path) -> str:
    """The local token stored in ``data_dir``, made (0600) on first use."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / TOKEN_FILE
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(32)
    # O_EXCL: if two processes race, one wins and the other reads the winner's token.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token
