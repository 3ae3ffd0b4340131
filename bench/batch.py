"""Scoring a big CSV: the naive tutorial pipeline vs batchscore's processor vs the writer alone.

For each size N it writes a synthetic CSV (8 float features, an integer id, a short text
column) and trains a HistGradientBoostingClassifier on 8 features, then runs, each in its own
process so that its peak RSS (VmHWM) belongs to that pipeline alone:

  (a) naive      pd.read_csv → model.predict → DataFrame.to_excel(engine="openpyxl")
  (b) processor  batchscore's process_one (claim → stream → predict → write → finish) on a job
                 queued through the real job table
  (c) writer     the xlsx writer alone writing the same final table, already in memory

and prints each one's own time for the work (imports and start-up excluded), rows/s, the whole
process's wall time, its peak RSS, and the ratios a/b and b/c of the work times.

    .venv/bin/python bench/batch.py [--rows 100000 1000000] [--format xlsx]
        [--input csv|xlsx|parquet] [--database-url mysql+pymysql://…] [--skip-naive-above N]

--input xlsx or parquet gives the processor the same rows as a workbook (rust_xlsxwriter) or
a parquet file (row groups of 100,000): their memory and time beside a CSV's. The naive
pipeline and the writer alone run for CSV input only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = [f"x{i}" for i in range(8)]
MODEL = "bench"
_WORDS = np.array(["north", "south", "east", "west", "centre", "=1+2", "coastal", "inland"])


@dataclass
class Run:
    """One pipeline's figures: its own timing of the work, and its process as seen from outside."""

    name: str
    seconds: float  #: the work alone, timed inside the process (no imports, no start-up)
    process_seconds: float  #: the whole process, start-up and imports included
    peak_rss_mb: float
    rows: int

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def write_csv(path: Path, rows: int, seed: int = 1) -> None:
    """N rows x 10 columns, generated and written in blocks so the generator stays small."""
    rng = np.random.default_rng(seed)
    block = 200_000
    with path.open("w") as f:
        for start in range(0, rows, block):
            n = min(block, rows - start)
            frame = pd.DataFrame(rng.normal(size=(n, 8)).round(6), columns=FEATURES)
            frame.insert(0, "id", np.arange(start + 1, start + n + 1))
            frame["region"] = rng.choice(_WORDS, size=n)
            frame.to_csv(f, header=start == 0, index=False)


def converted(csv: Path, kind: str) -> Path:
    """The CSV's rows as an .xlsx or .parquet file beside it (the CSV itself for "csv")."""
    if kind == "csv":
        return csv
    import pyarrow.csv as pv
    import pyarrow.parquet as pq
    import rustpy_xlsxwriter

    target = csv.with_suffix(f".{kind}")
    table = pv.read_csv(csv)
    if kind == "parquet":
        pq.write_table(table, target, row_group_size=100_000)
    else:
        columns = table.column_names
        rows = (
            dict(zip(columns, row, strict=True))
            for row in zip(*table.to_pydict().values(), strict=True)
        )
        rustpy_xlsxwriter.write_worksheet(rows, str(target))
    return target


def train(model_dir: Path) -> None:
    """The 8-feature classifier every pipeline uses, saved in batchscore's registry."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from batchscore.model.registry import save_model

    rng = np.random.default_rng(2)
    x = pd.DataFrame(rng.normal(size=(20_000, 8)), columns=FEATURES)
    y = np.where(x["x0"] + x["x1"] * x["x2"] - x["x3"] > 0, "yes", "no")
    estimator = HistGradientBoostingClassifier(max_iter=50, random_state=0).fit(x, y)
    save_model(
        model_dir,
        MODEL,
        estimator,
        task="classification",
        features=FEATURES,
        target="label",
        metrics={},
        training_rows=len(x),
        training_data_sha256="0" * 64,
    )


def settings_for(work: Path, database_url: str | None, output_format: str) -> dict[str, str]:
    """BATCHSCORE_* variables for the processor's process (config-file free)."""
    return {
        "BATCHSCORE_DB_URL": database_url or f"sqlite:///{work / 'bench.db'}",
        "BATCHSCORE_INPUT_DIR": str(work / "input"),
        "BATCHSCORE_OUTPUT_DIR": str(work / "output"),
        "BATCHSCORE_MODEL_DIR": str(work / "models"),
        "BATCHSCORE_DEFAULT_MODEL": MODEL,
        "BATCHSCORE_OUTPUT_FORMAT": output_format,
    }


def queue_job(csv: Path, environ: dict[str, str]) -> int:
    """Create the schema (dropping an earlier run's jobs) and queue the file as one job."""
    from sqlalchemy import delete

    from batchscore.config import load_settings
    from batchscore.db import migrate
    from batchscore.db.engine import in_transaction
    from batchscore.db.tables import jobs
    from batchscore.scheduler.context import Context
    from batchscore.service.intake import submit_file

    ctx = Context.from_settings(load_settings(environ={**os.environ, **environ}))
    migrate.upgrade(ctx.engine)
    in_transaction(ctx.engine, lambda c: c.execute(delete(jobs)))
    with csv.open("rb") as source:
        job = submit_file(ctx, source, csv.name)
    ctx.engine.dispose()
    return job.id


def report_child(seconds: float) -> None:
    """The child's timing and its own peak RSS (VmHWM, counted from its exec: wait4's
    ru_maxrss also counts the parent's pages the child shared before exec, which inflated the
    figure after the parent had converted a big file)."""
    status = Path("/proc/self/status").read_text()
    peak_kb = int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_kb / 1024}))


def child_naive(csv: Path, work: Path) -> None:
    from batchscore.model.registry import load_model

    model = load_model(work / "models", MODEL)
    started = time.perf_counter()
    frame = pd.read_csv(csv)
    frame["prediction"] = model.estimator.predict(frame[FEATURES])
    frame.to_excel(work / "naive.xlsx", index=False, engine="openpyxl")
    report_child(time.perf_counter() - started)


def child_processor(work: Path) -> None:
    from batchscore.config import load_settings
    from batchscore.db.jobs import JobStatus
    from batchscore.logs import configure_logging
    from batchscore.scheduler.context import Context
    from batchscore.scheduler.processor import process_one

    configure_logging()
    ctx = Context.from_settings(load_settings())
    started = time.perf_counter()
    job = process_one(ctx)
    seconds = time.perf_counter() - started
    if job is None or job.status is not JobStatus.PROCESSED:
        raise SystemExit(f"The job did not process: {job}")
    report_child(seconds)


def child_writer(csv: Path, work: Path) -> None:
    """Build the final table untimed, then time only the xlsx library writing it."""
    from batchscore.model.registry import load_model

    model = load_model(work / "models", MODEL)
    frame = pd.read_csv(csv)
    frame["prediction"] = model.estimator.predict(frame[FEATURES])
    frame["error"] = None
    started = time.perf_counter()
    write_table_alone(work / "writer.xlsx", frame)
    report_child(time.perf_counter() - started)


def write_table_alone(path: Path, frame: pd.DataFrame) -> None:
    """rust_xlsxwriter (rustpy-xlsxwriter), constant memory, one dict per row: the library's
    streaming input, fed straight from the finished table."""
    import rustpy_xlsxwriter

    columns = list(frame.columns)
    rows = (
        dict(zip(columns, row, strict=True)) for row in frame.itertuples(index=False, name=None)
    )
    rustpy_xlsxwriter.write_worksheet(rows, str(path), bold_headers=True, freeze_row=1)


def measure(name: str, args: list[str], rows: int, environ: dict[str, str]) -> Run:
    """Run a child process; wall time from outside (or its own, when it reports one)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, env={**os.environ, **environ}
    )
    assert process.stdout is not None
    output = process.stdout.read()
    process.wait()
    process_seconds = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"{name} failed with exit status {process.returncode}")
    reported = json.loads(output.splitlines()[-1])
    return Run(name, reported["seconds"], process_seconds, reported["peak_rss_mb"], rows)


def report(rows: int, runs: dict[str, Run]) -> None:
    print(f"\n{rows:,} rows")
    print(f"  {'pipeline':<10} {'work s':>8} {'rows/s':>10} {'process s':>10} {'peak RSS':>10}")
    for run in runs.values():
        print(
            f"  {run.name:<10} {run.seconds:>8.1f} {run.rows_per_second:>10,.0f} "
            f"{run.process_seconds:>10.1f} {run.peak_rss_mb:>7.0f} MB"
        )
    processor = runs["processor"]
    if "naive" in runs:
        print(f"  a/b (naive / processor):  {runs['naive'].seconds / processor.seconds:.2f}x")
    if "writer" in runs:
        print(f"  b/c (processor / writer): {processor.seconds / runs['writer'].seconds:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--format", default="xlsx", choices=["xlsx", "csv", "parquet"])
    parser.add_argument("--input", default="csv", choices=["csv", "xlsx", "parquet"])
    parser.add_argument("--database-url", help="default: SQLite in the work folder")
    parser.add_argument("--skip-naive-above", type=int, default=1_000_000)
    parser.add_argument("--child", choices=["naive", "processor", "writer"], help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "naive":
        return child_naive(args.csv, args.work)
    if args.child == "processor":
        return child_processor(args.work)
    if args.child == "writer":
        return child_writer(args.csv, args.work)

    with tempfile.TemporaryDirectory(prefix="bench-batch-") as folder:
        work = Path(folder)
        train(work / "models")
        environ = settings_for(work, args.database_url, args.format)
        for rows in args.rows:
            csv = work / f"data-{rows}.csv"
            write_csv(csv, rows)
            source = converted(csv, args.input)
            size = source.stat().st_size / 1024**2
            print(
                f"\n{source.name}: {rows:,} rows, {size:.0f} MB, output {args.format}", flush=True
            )
            paths = ["--csv", str(csv), "--work", str(work)]
            runs: dict[str, Run] = {}
            baselines = args.format == "xlsx" and args.input == "csv"
            if baselines and rows <= args.skip_naive_above:
                runs["naive"] = measure("naive", ["--child", "naive", *paths], rows, {})
            queue_job(source, environ)
            runs["processor"] = measure(
                "processor", ["--child", "processor", *paths], rows, environ
            )
            if baselines:
                runs["writer"] = measure("writer", ["--child", "writer", *paths], rows, {})
            report(rows, runs)
            for path in {csv, source}:
                path.unlink()


if __name__ == "__main__":
    main()
