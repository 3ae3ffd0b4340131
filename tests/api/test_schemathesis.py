"""Schemathesis against the live server's /openapi.json with a valid token: no 5xx, and every
response agrees with the document (status code, content type, headers, body schema)."""

from __future__ import annotations

import time
import traceback
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

import pytest
import requests
import schemathesis
from factories import add_job, iris_csv, submit
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from batchscore.db.engine import in_transaction
from batchscore.db.jobs import claim_next_job
from batchscore.scheduler.context import Context
from batchscore.scheduler.processor import process_one

pytestmark = [pytest.mark.network, pytest.mark.slow]  # over a thousand calls to a real server

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller

MAX_EXAMPLES = 50  # per operation and generation mode
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# derandomize: the same cases on every run, so that CI is repeatable.
RUN_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
)
UPLOADS = [  # bodies of POST /api/jobs that make a job
    {"file": iris_csv(2).encode()},
    {"file": iris_csv(1).encode(), "model": "iris", "format": "csv"},
]
_SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
RECORDS = [_SETOSA, [_SETOSA, {**_SETOSA, "petal_length": 6.0, "petal_width": 2.5}]]
Operation = APIOperation[Any, Any, Any, Any]
Cases = st.SearchStrategy[Case[Operation]]
StatusCounts = defaultdict[str, Counter[int]]


def seed_jobs(ctx: Context, owner: Caller) -> list[int]:
    """The caller's jobs in every status; their ids."""
    pending, processed, in_progress, *more_pending = (
        submit(ctx, iris_csv(2), owner_id=owner.user.id) for _ in range(6)
    )
    failed = add_job(ctx, b"\x89PNG\r\n\x1a\n", owner_id=owner.user.id)  # the processor fails it
    for job in (processed, failed):
        process_one(ctx, job_id=job.id)
    in_transaction(
        ctx.engine,
        lambda c: claim_next_job(c, worker_id="test", lease_seconds=600, job_id=in_progress.id),
    )
    return [job.id for job in (pending, processed, in_progress, failed, *more_pending)]


def operations_of(schema: BaseSchema) -> list[Operation]:
    """The document's operations, DELETE last so that the seeded jobs live long."""
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # an operation schemathesis cannot read is a broken document
        operations.append(result.ok())
    return sorted(operations, key=lambda op: op.method.upper() == "DELETE")


def generation_modes(operation: Operation) -> list[GenerationMode]:
    """Valid requests; and invalid ones too where the operation takes any input to spoil."""
    has_input = operation.path_parameters or operation.query or operation.body
    return list(GenerationMode) if has_input else [GenerationMode.POSITIVE]


def cases(operation: Operation, mode: GenerationMode, job_ids: list[int]) -> Cases:
    """Generated cases; valid ones are also aimed at the seeded jobs and at good uploads."""
    generated = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.NEGATIVE:
        return generated
    return st.one_of(generated, *aimed(operation, job_ids))


def aimed(operation: Operation, job_ids: list[int]) -> list[Cases]:
    if operation.label == "POST /api/models/{name}/predict":
        iris = {"name": "iris"}
        json_bodies = [
            operation.as_strategy(path_parameters=iris, body=body, media_type="application/json")
            for body in RECORDS
        ]
        csv_body = iris_csv(2).encode()
        return [
            *json_bodies,
            operation.as_strategy(path_parameters=iris, body=csv_body, media_type="text/csv"),
        ]
    if operation.path_parameters:
        return [operation.as_strategy(path_parameters={"job_id": job_id}) for job_id in job_ids]
    if operation.path == "/process_file":
        queries = [{"id": job_id, "wait": wait} for job_id in job_ids for wait in (True, False)]
        return [operation.as_strategy(query=query) for query in queries]
    if operation.label == "POST /api/jobs":
        return [operation.as_strategy(body=upload) for upload in UPLOADS]
    return []


def run_operation(
    operation: Operation,
    strategy: Cases,
    session: requests.Session,
    statuses: StatusCounts,
) -> None:
    @RUN_SETTINGS
    @given(case=strategy)
    def check(case: Case[Operation]) -> None:
        response = case.call(session=session)
        statuses[operation.label][response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    check()


def test_api_agrees_with_its_openapi_document(base_url: str, alice: Caller, ctx: Context) -> None:
    job_ids = seed_jobs(ctx, alice)
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = operations_of(schema)
    statuses: StatusCounts = defaultdict(Counter)
    failures: list[str] = []
    started = time.monotonic()
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {alice.token}"
        for operation in operations:
            for mode in generation_modes(operation):
                try:
                    run_operation(operation, cases(operation, mode, job_ids), session, statuses)
                except* AssertionError as group:
                    report = "".join(traceback.format_exception_only(group))
                    failures.append(f"{operation.label} ({mode.value} cases): {report}")
    tried = sum(counts.total() for counts in statuses.values())
    print(f"\nschemathesis: {tried} cases in {time.monotonic() - started:.1f} s")
    for label, counts in statuses.items():
        print(f"  {label}: {counts.total()} cases, statuses {dict(sorted(counts.items()))}")
    print("\n".join(failures))
    assert failures == []
