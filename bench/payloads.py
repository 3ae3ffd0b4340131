"""What a typed response payload costs: build one and encode it to JSON bytes, per way of typing.

Two payloads: a predict answer for one record (the hot path: the predict route's lead over
MLflow must not shrink) and a Job (24 fields, 50 per panel poll). Each way is timed in the same
run against the baseline, a plain dict through json.dumps as Starlette's JSONResponse renders
it. Prints the median CPU microseconds per payload over --rounds rounds, and the ratio.

    .venv/bin/python bench/payloads.py [--rounds 7] [--number 20000]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import msgspec
import pydantic

PROBABILITIES = {"setosa": 0.9812, "versicolor": 0.0187, "virginica": 0.0001}
JOB: dict[str, Any] = {
    "id": 1234,
    "kind": "score",
    "status": "PROCESSED",
    "filename": "sales-2026-11.csv",
    "model": "iris",
    "model_version": 3,
    "output_format": "xlsx",
    "result_sheets": 1,
    "metrics": None,
    "rows_total": 10000,
    "rows_done": 10000,
    "rows_failed": 12,
    "progress": 1.0,
    "error": None,
    "attempts": 1,
    "archived": False,
    "created_at": "2026-12-02T07:01:02.123Z",
    "started_at": "2026-12-02T07:01:02.623Z",
    "finished_at": "2026-12-02T07:01:05.001Z",
    "duration_seconds": 2.378,
    "url": "http://127.0.0.1:8000/api/jobs/1234",
    "result_url": "http://127.0.0.1:8000/api/jobs/1234/result",
}


def starlette_json(content: object) -> bytes:
    """What starlette.responses.JSONResponse.render does."""
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


class PredictStruct(msgspec.Struct):
    model: str
    version: int
    prediction: str | float
    probabilities: dict[str, float] | None


class JobStruct(msgspec.Struct):
    id: int
    kind: str
    status: str
    filename: str
    model: str
    model_version: int | None
    output_format: str | None
    result_sheets: int | None
    metrics: dict[str, float] | None
    rows_total: int | None
    rows_done: int
    rows_failed: int
    progress: float
    error: str | None
    attempts: int
    archived: bool
    created_at: str
    started_at: str | None
    finished_at: str | None
    duration_seconds: float | None
    url: str
    result_url: str | None


@dataclasses.dataclass
class PredictData:
    model: str
    version: int
    prediction: str | float
    probabilities: dict[str, float] | None


JobData = dataclasses.make_dataclass("JobData", [(k, object) for k in JOB])


class PredictModel(pydantic.BaseModel):
    model: str
    version: int
    prediction: str | float
    probabilities: dict[str, float] | None


JobModel = pydantic.create_model("JobModel", **{k: (object, ...) for k in JOB})  # type: ignore[call-overload]

_ENCODER = msgspec.json.Encoder()
WAYS: dict[str, dict[str, Callable[[], bytes]]] = {
    "predict answer": {
        "dict + json.dumps (baseline)": lambda: starlette_json(
            {"model": "iris", "version": 3, "prediction": "setosa", "probabilities": PROBABILITIES}
        ),
        "dataclass + asdict + json.dumps": lambda: starlette_json(
            dataclasses.asdict(PredictData("iris", 3, "setosa", PROBABILITIES))
        ),
        "msgspec Struct + msgspec.json": lambda: _ENCODER.encode(
            PredictStruct("iris", 3, "setosa", PROBABILITIES)
        ),
        "pydantic model + model_dump_json": lambda: (
            PredictModel(model="iris", version=3, prediction="setosa", probabilities=PROBABILITIES)
            .model_dump_json()
            .encode()
        ),
    },
    "job": {
        "dict + json.dumps (baseline)": lambda: starlette_json(dict(JOB)),
        "dataclass + asdict + json.dumps": lambda: starlette_json(
            dataclasses.asdict(JobData(**JOB))
        ),
        "msgspec Struct + msgspec.json": lambda: _ENCODER.encode(JobStruct(**JOB)),
        "pydantic model + model_dump_json": lambda: JobModel(**JOB).model_dump_json().encode(),
    },
}


def cpu_microseconds(work: Callable[[], bytes], number: int) -> float:
    started = time.process_time()
    for _ in range(number):
        work()
    return (time.process_time() - started) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=20_000)
    args = parser.parse_args()
    for payload, ways in WAYS.items():
        outputs = {
            json.loads(way()) == json.loads(next(iter(ways.values()))()) for way in ways.values()
        }
        assert outputs == {True}, f"{payload}: the ways disagree"
        timings = {
            name: statistics.median(cpu_microseconds(way, args.number) for _ in range(args.rounds))
            for name, way in ways.items()
        }
        baseline = next(iter(timings.values()))
        print(f"{payload}: median CPU µs per payload over {args.rounds} rounds of {args.number:,}")
        for name, micros in timings.items():
            print(f"  {name:<36} {micros:7.2f} µs   {micros / baseline:5.2f}x the baseline")


if __name__ == "__main__":
    main()
