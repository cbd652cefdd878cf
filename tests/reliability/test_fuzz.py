"""schemathesis against /openapi.json of the session's job server, with a valid token:
no 5xx, and every answer (status code, content type, headers, body) is one the document
declares. The example count is bounded so this stays a few seconds per operation.
"""

from __future__ import annotations

from collections import Counter

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from prefect_ibmq import IBMQService
from prefect_ibmq.circuits import ghz
from tests.helpers import TOKENS

MAX_EXAMPLES = 50
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
CASES: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()
MODES: Counter[str] = Counter()


def _fuzz_operation(operation, failures: list[str], mode: GenerationMode, job_id: str | None = None) -> None:
    fixed = {"path_parameters": {"job_id": job_id}} if job_id else {}

    @given(case=operation.as_strategy(mode, **fixed))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,  # the same cases every run
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report the first failure as it is
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        # A long-poll may hold an answer up to 60 s: keep fuzzed waits short.
        if case.query and isinstance(case.query.get("wait"), (int, float)) and case.query["wait"] > 0.2:
            case.query["wait"] = 0.2
        # A valid token, unless the negative case is about the Authorization header itself
        # (left out, or not "Bearer ..."): then it goes as generated and must be refused.
        sent = next((v for k, v in (case.headers or {}).items() if k.lower() == "authorization"), None)
        valid = mode is GenerationMode.POSITIVE or (isinstance(sent, str) and sent.startswith("Bearer "))
        headers = {"Authorization": f"Bearer {TOKENS['alice'][0]}"} if valid else None
        response = case.call(headers=headers, timeout=30)
        CASES[f"{case.method} {case.path}"] += 1
        MODES[mode.value] += 1
        STATUSES[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid input could be generated"
        # An operation without parameters or body (GET /v1/health) has no invalid input to send.
    except BaseException as exc:  # schemathesis raises a FailureGroup: collected, asserted at the end
        where = f" (job_id={job_id})" if job_id else ""
        failures.append(f"{operation.label} [{mode.value}{where}]: {type(exc).__name__}: {str(exc)[:1500]}")


def _real_jobs(url: str) -> dict[str, str]:
    """Jobs of alice the fuzzer aims at, besides the ids it makes up (which are all unknown)."""
    service = IBMQService(url, TOKENS["alice"][0])
    done = service.backend("aer_simulator").run(ghz(2), shots=8, job_tags=["fuzz"])
    done.wait_for_final_state(timeout=60)
    return {
        "done": done.job_id(),
        "running": service.backend("slow_simulator").run([ghz(2)] * 20, shots=8, job_tags=["fuzz"]).job_id(),
        "doomed": service.backend("aer_simulator").run(ghz(2), shots=8, job_tags=["fuzz"]).job_id(),
    }


def test_api_conforms_to_its_openapi_document(job_server, figures):
    schema = schemathesis.openapi.from_url(f"{job_server.url}/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    jobs = _real_jobs(job_server.url)
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_operation(operation, failures, mode)
        if "{job_id}" in operation.path:
            # Valid input about a job that exists: the first DELETE removes "doomed", later ones 404.
            target = jobs["doomed"] if operation.method.upper() == "DELETE" else (
                jobs["running"] if operation.path.endswith("/cancel") else jobs["done"])
            _fuzz_operation(operation, failures, GenerationMode.POSITIVE, target)
    figures.record(
        "fuzzing",
        schemathesis_version=schemathesis.__version__,
        schemathesis_cases=sum(CASES.values()),
        operations=len(CASES),
        max_examples_per_run=MAX_EXAMPLES,
        cases_by_mode=dict(MODES),
        responses_by_status=dict(sorted((str(k), v) for k, v in STATUSES.items())),
        server_errors=sum(v for k, v in STATUSES.items() if k >= 500),
    )
    assert not failures, "\n\n".join(failures)
    assert not [k for k in STATUSES if k >= 500]
