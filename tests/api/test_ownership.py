"""A user sees and touches only their own jobs: someone else's job is 404 everywhere.
An admin sees and acts on everyone's."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller, Jobs

SECRET_NAME = "alice-secret-plans.csv"
SECRET_STEM = "alice-secret-plans"

# Each job route, with the state in which the action would succeed for the job's owner.
JOB_ROUTES = [
    ("GET", "/api/jobs/{id}", "PENDING"),
    ("GET", "/api/jobs/{id}/result", "PROCESSED"),
    ("POST", "/api/jobs/{id}/retry", "FAILED"),
    ("POST", "/api/jobs/{id}/archive", "PENDING"),
    ("POST", "/api/jobs/{id}/unarchive", "ARCHIVED"),
    ("DELETE", "/api/jobs/{id}", "PROCESSED"),
    ("GET", "/process_file?id={id}", "PENDING"),
    ("POST", "/process_file?id={id}", "PENDING"),
]


@pytest.mark.parametrize(("method", "path", "state"), JOB_ROUTES)
def test_other_users_job_is_not_found(
    alice: Caller, bob: Caller, jobs: Jobs, method: str, path: str, state: str
) -> None:
    job = jobs.make(alice, state, filename=SECRET_NAME)
    response = bob.client.request(method, path.format(id=job.id))
    assert response.status_code == 404, response.text
    assert response.json() == {
        "error": {"code": "not_found", "message": f"Job {job.id} not found."}
    }


@pytest.mark.parametrize(("method", "path", "state"), JOB_ROUTES)
def test_other_users_job_name_never_shows(
    alice: Caller, bob: Caller, jobs: Jobs, method: str, path: str, state: str
) -> None:
    job = jobs.make(alice, state, filename=SECRET_NAME)
    response = bob.client.request(method, path.format(id=job.id))
    assert SECRET_STEM not in response.text
    assert SECRET_STEM not in str(response.headers)


@pytest.mark.parametrize(("method", "path", "state"), JOB_ROUTES)
def test_other_users_attempt_leaves_job_unchanged(
    alice: Caller, bob: Caller, jobs: Jobs, method: str, path: str, state: str
) -> None:
    job = jobs.make(alice, state, filename=SECRET_NAME)
    bob.client.request(method, path.format(id=job.id))
    assert jobs.get(job.id) == job
    assert all(file.exists() for file in jobs.files(job))


def test_other_users_job_is_not_listed(alice: Caller, bob: Caller, jobs: Jobs) -> None:
    jobs.make(alice, "PENDING", filename=SECRET_NAME)
    own = jobs.make(bob, "PENDING")
    body = bob.client.get("/api/jobs", params={"archived": "true"}).json()
    assert [j["id"] for j in body["jobs"]] == [own.id]
    assert body["total"] == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_process_all_leaves_other_users_jobs_pending(
    alice: Caller, bob: Caller, jobs: Jobs, method: str
) -> None:
    theirs = jobs.make(alice, "PENDING", filename=SECRET_NAME)  # older: it would be run first
    own = jobs.make(bob, "PENDING")
    response = bob.client.request(method, "/process_all")
    assert response.status_code == 202, response.text
    assert response.json() == {"job_ids": [own.id], "count": 1}
    jobs.wait_for(bob, own.id, "PROCESSED")
    assert jobs.get(theirs.id) == theirs


@pytest.mark.parametrize(
    ("method", "path", "state", "status"),
    [
        ("GET", "/api/jobs/{id}", "PENDING", 200),
        ("GET", "/api/jobs/{id}/result", "PROCESSED", 200),
        ("POST", "/api/jobs/{id}/retry", "FAILED", 200),
        ("POST", "/api/jobs/{id}/archive", "PENDING", 200),
        ("POST", "/api/jobs/{id}/unarchive", "ARCHIVED", 200),
        ("DELETE", "/api/jobs/{id}", "PROCESSED", 204),
        ("GET", "/process_file?id={id}", "PENDING", 200),
        ("POST", "/process_file?id={id}", "PENDING", 200),
    ],
)
def test_admin_acts_on_other_users_job(
    alice: Caller, admin: Caller, jobs: Jobs, method: str, path: str, state: str, status: int
) -> None:
    job = jobs.make(alice, state)
    response = admin.client.request(method, path.format(id=job.id))
    assert response.status_code == status, response.text


def test_admin_lists_everyones_jobs(alice: Caller, bob: Caller, admin: Caller, jobs: Jobs) -> None:
    ids = [jobs.make(alice).id, jobs.make(bob).id, jobs.make(admin).id]
    body = admin.client.get("/api/jobs").json()
    assert [j["id"] for j in body["jobs"]] == sorted(ids, reverse=True)
    assert body["total"] == 3


def test_admin_process_all_takes_everyones_jobs(
    alice: Caller, bob: Caller, admin: Caller, jobs: Jobs
) -> None:
    ids = [jobs.make(alice).id, jobs.make(bob).id]
    response = admin.client.post("/process_all")
    assert response.status_code == 202, response.text
    assert response.json() == {"job_ids": sorted(ids), "count": 2}
    for job_id in ids:
        jobs.wait_for(admin, job_id, "PROCESSED")
