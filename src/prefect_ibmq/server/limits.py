"""The bounds a shared job service puts on every request, job and identity: ``ServerConfig.limits``.

Each limit has a safe default and is published at ``GET /v1/limits``; a request
past one is refused with a 4xx naming the limit (``limits.<name>``) and its
value, before the work it would cost is done: sizes and widths are read from
headers, totals from counts, and nothing is stored.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

KIB = 1024
MIB = 1024 * KIB


class Limits(BaseModel):
    """Per request, per job and per identity bounds (``[limits]`` in a config file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- bodies ------------------------------------------------------------------------
    #: Body of any request that submits no job (tags, names, sessions, ...).
    max_request_bytes: int = Field(1 * MIB, ge=KIB)
    #: Body of a request that carries no valid token (only ``POST /identity/token`` reads one).
    max_anonymous_body_bytes: int = Field(16 * KIB, ge=KIB)

    # --- free-form fields (checked before anything is stored) --------------------------
    #: Nesting of any JSON value a client stores or sends as program input (header, params, metadata).
    max_json_depth: int = Field(32, ge=2, le=200)
    #: JSON size of a job's ``header`` and of its ``client_info``, each.
    max_header_bytes: int = Field(64 * KIB, ge=KIB)
    #: JSON size of one circuit's metadata (read from its QPY header).
    max_metadata_bytes: int = Field(64 * KIB, ge=KIB)
    #: Characters of a job name, an experiment id, a tag, a ``name`` filter.
    max_name_length: int = Field(256, ge=16)
    #: Tags of one job.
    max_tags: int = Field(64, ge=1)

    # --- circuits (read from the QPY headers before decoding) --------------------------
    #: Classical bits of one circuit (its width in qubits is bounded by the backend's ``n_qubits``).
    max_clbits: int = Field(1024, ge=1)
    #: Instructions of a whole job, nested blocks and definitions included.
    max_instructions_per_job: int = Field(2_000_000, ge=1)
    #: Circuits nested in circuits (control-flow blocks, gate definitions).
    max_circuit_nesting: int = Field(16, ge=1, le=64)
    #: Bytes a job's compressed runtime values (circuits, arrays) may inflate to, all together
    #: (by default what an uncompressed submission could carry).
    max_decompressed_bytes: int = Field(64 * MIB, ge=MIB)

    # --- total work of one job, on both APIs -------------------------------------------
    #: Shots of a job: experiments x shots (``/v1``), parameter bindings x shots (sampler).
    max_job_shots: int = Field(100_000_000, ge=1)
    #: Shots kept one by one as memory strings (``/v1`` with ``memory=true``).
    max_job_memory_shots: int = Field(1_000_000, ge=1)
    #: Classical bits kept shot by shot: shots x classical bits of each circuit (sampler, ``/v1`` memory).
    max_job_classical_bits: int = Field(1_000_000_000, ge=1)
    #: Expectation values of an estimator job: observables x parameter sets, over its pubs.
    max_job_estimates: int = Field(100_000, ge=1)

    # --- identities --------------------------------------------------------------------
    #: Jobs of one identity not yet final (both APIs); past it a submission is 429.
    max_jobs_in_flight: int = Field(1000, ge=1)
    #: Requests one identity may make per second on one replica, sustained ...
    requests_per_second: float = Field(100.0, gt=0.0)
    #: ... and in a burst; past it a request is 429 with ``Retry-After``.
    request_burst: int = Field(200, ge=1)
    #: The share of the server's time one identity's requests may take, sustained (0.25: a
    #: quarter of a second each second, measured from its body's arrival to its answer) ...
    server_share: float = Field(0.25, gt=0.0)
    #: ... and in a burst, in seconds; past it a request is 429 with ``Retry-After``, while other
    #: identities use the server too (one alone has all of it). So a flood of costly requests
    #: leaves the others most of the server.
    server_share_burst_s: float = Field(2.0, gt=0.0)
    #: Requests of one identity being served at once (long polls aside, which hold no thread);
    #: more wait their turn, so a flood of slow requests occupies a few threads, never all ...
    max_concurrent_requests: int = Field(4, ge=1)
    #: ... and at most this many wait; past it a request is 429 with ``Retry-After``.
    max_waiting_requests: int = Field(64, ge=0)

    # --- the store and what it keeps ---------------------------------------------------
    #: A database statement running longer is cancelled (PostgreSQL ``statement_timeout``,
    #: a progress handler on SQLite); the request answers 503.
    statement_timeout_s: float = Field(10.0, gt=0.0)
    #: A private job's result held for a reader that never acknowledges it is deleted this
    #: long after the read that took it.
    held_result_ttl_s: float = Field(24 * 3600.0, gt=0.0)
    #: The longest ``max_ttl`` a runtime session may ask for.
    max_session_ttl_s: int = Field(24 * 3600, ge=1)
