"""process_one(): claim → score (or train) → publish → finish. A job's whole life, top to bottom.

The cron entry, `batchscore worker` and the HTTP API all call process_one; nothing else
processes jobs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TypeVar, cast

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa

from batchscore import logs
from batchscore.db.engine import Connection, in_transaction
from batchscore.db.jobs import (
    JobKind,
    JobRecord,
    JobStatus,
    claim_next_job,
    get_job,
    mark_failed,
    mark_processed,
    release_job,
    requeue_expired,
)
from batchscore.errors import (
    DatabaseUnavailable,
    GiveBack,
    InputError,
    LeaseLost,
    ModelError,
    NotFound,
)
from batchscore.model.drift import DriftBuilder
from batchscore.model.predict import (
    Scored,
    gives_probabilities,
    predict_chunk,
    predicted_probability,
)
from batchscore.model.registry import LoadedModel, load_model
from batchscore.model.schema import check_columns, feature_columns
from batchscore.model.summary import Summary, SummaryBuilder, evaluation_rows
from batchscore.scheduler.context import Context
from batchscore.scheduler.lease import LeaseKeeper
from batchscore.scheduler.reading import (
    NO_ROWS,
    TableLayout,
    describe_read_as,
    parquet_types,
    read_chunks,
)
from batchscore.scheduler.score_options import ScoreOptions
from batchscore.scheduler.train_jobs import plan_of, train_file
from batchscore.scheduler.writing import text_types, too_long_for_excel, write_result

logger = logging.getLogger(__name__)
T = TypeVar("T")

UNEXPECTED_ERROR = (
    "An unexpected error stopped the processing of this file. It has been logged for the "
    "operator; retry the job, and if it fails again, contact the operator."
)
FILE_ERROR = (
    "A file could not be written or read ({reason}). Ask the operator to check the disk space "
    "and permissions of the data folders, then retry."
)
_EXAMPLES = 3  # failed rows quoted in the message of a job that fails on its error share


@dataclass
class _Tally:
    rows: int = 0
    failed: int = 0
    sheets: int = 1
    examples: list[str] = field(default_factory=list)
    summary: Summary | None = None


@dataclass
class _Attempt:
    """One claim of a job, and what its work has made so far, to clean up if it ends badly."""

    job: JobRecord
    token: str
    tmp: Path | None = None  #: a score job's temp result file
    published: str | None = None  #: its result's name, once published
    model_version: int | None = None  #: the version used, once loaded
    tally: _Tally | None = None  #: a score job's rows, once all are read
    kept: str | None = None  #: the result of a job failed for its rows, kept for its bad rows


def process_one(ctx: Context, *, job_id: int | None = None) -> JobRecord | None:
    """Claim the oldest pending job (or job `job_id`) and run it to the end.

    Returns the job as it ended (as claimed, if it was cancelled and deleted meanwhile), or
    None when there was nothing to claim.
    """
    job = _claim(ctx, job_id)
    if job is None:
        return None
    assert job.claim_token is not None
    attempt = _Attempt(job, job.claim_token)
    context = logs.job_id.set(job.id)
    try:
        logger.info("Job %s claimed by %s (attempt %s)", job.id, ctx.worker_id, job.attempts)
        with _ending(ctx, attempt):
            if job.kind is JobKind.TRAIN:
                _train(ctx, attempt)
            else:
                _score_file(ctx, attempt)
        try:
            return _record(ctx, lambda c: get_job(c, job.id))
        except NotFound:
            return job
    finally:
        ctx.progress.close()
        logs.job_id.reset(context)


def _score_file(ctx: Context, attempt: _Attempt) -> None:
    settings, job, token = ctx.settings, attempt.job, attempt.token
    tmp = attempt.tmp = ctx.storage.temp_output(job.id, token, job.output_format)
    with _lease(ctx, job, token) as lease:
        ctx.storage.remove_temp_outputs(job.id)
        options = ScoreOptions.from_json(job.options)
        with ctx.storage.local_input(job.input_name, job.id, token) as source:
            layout = options.layout_of(source)
            lease.rows_expected = layout.line_count
            model = load_model(settings.model_dir, job.model_name, job.model_version)
            version = attempt.model_version = model.info.version
            check_columns(model.info, layout.columns, layout.repeated)
            tally = attempt.tally = _score(ctx, job, options, model, layout, source, tmp, lease)
        too_many = _too_many_errors(tally, settings.max_error_rows_fraction)
        lease.check()
        name = ctx.storage.result_name(
            job.id, job.original_filename, job.output_format, failed=too_many is not None
        )
        ctx.storage.publish(tmp, name)  # an upload to a bucket takes a while: still leased
        attempt.published = name
        if too_many:  # FAILED, its result kept for GET …/errors to serve the bad rows
            attempt.kept = name
            raise InputError(too_many)
    _record(
        ctx,
        lambda c: mark_processed(
            c,
            job.id,
            token,
            output_name=name,
            model_version=version,
            rows_total=tally.rows,
            rows_failed=tally.failed,
            result_sheets=tally.sheets,
            summary=msgspec.to_builtins(tally.summary),
        ),
    )
    logger.info("Job %s processed: %s rows, %s failed → %s", job.id, tally.rows, tally.failed, name)


def _train(ctx: Context, attempt: _Attempt) -> None:
    """Fit a new version of the job's model from its file: the version is the result."""
    job, token = attempt.job, attempt.token
    with (
        _lease(ctx, job, token) as lease,
        ctx.storage.local_input(job.input_name, job.id, token) as source,
    ):
        trained = train_file(
            ctx.settings,
            source,
            job.model_name,
            plan_of(job.options),
            data_sha256=job.input_sha256,
            before_save=lease.check,
            progress=ctx.progress,
        )
    info = trained.info
    _record(
        ctx,
        lambda c: mark_processed(
            c,
            job.id,
            token,
            output_name=None,
            model_version=info.version,
            rows_total=trained.rows_used + trained.rows_skipped,
            rows_failed=trained.rows_skipped,
            result_sheets=None,
            metrics=info.metrics,
        ),
    )
    logger.info("Job %s trained %s v%s: %s", job.id, info.name, info.version, info.metrics)


@contextmanager
def _ending(ctx: Context, attempt: _Attempt) -> Iterator[None]:
    """Record how the work ended if it did not record it itself, and clean up after it."""
    job = attempt.job
    try:
        yield
    except (InputError, ModelError, NotFound) as exc:
        _fail(ctx, attempt, exc.message)
    except OSError as exc:  # disk full, folder gone or not writable: the operator must act
        logger.exception("Job %s: file system error", job.id)
        _fail(ctx, attempt, FILE_ERROR.format(reason=exc.strerror or exc))
    except LeaseLost:
        _discard(ctx, attempt)
        _lost(ctx, attempt)
    except GiveBack:
        _discard(ctx, attempt)
        _give_back(ctx, job, attempt.token)
        raise
    except DatabaseUnavailable:
        _discard(ctx, attempt)
        logger.error("Job %s: its end could not be recorded; it runs again after its lease", job.id)
        raise
    except Exception:
        logger.exception("Job %s failed unexpectedly", job.id)
        _fail(ctx, attempt, UNEXPECTED_ERROR)


def _lost(ctx: Context, attempt: _Attempt) -> None:
    """Our claim is void: cancelled (drop the result if it got out), or taken over after our
    lease ran out (the new holder publishes under the same name: leave it)."""
    job_id = attempt.job.id
    try:
        status = _record(ctx, lambda c: get_job(c, job_id)).status
    except NotFound:  # cancelled, then deleted
        status = JobStatus.CANCELLED
    if status is not JobStatus.CANCELLED:
        logger.warning("Job %s: lease lost to another processor; its work was discarded", job_id)
        return
    if attempt.published is not None:
        ctx.storage.delete_output(attempt.published)
    logger.info("Job %s: cancelled while it ran; its work was discarded", job_id)


def _discard(ctx: Context, attempt: _Attempt) -> None:
    if attempt.tmp is not None:
        ctx.storage.discard_temp(attempt.tmp)


def _record(ctx: Context, work: Callable[[Connection], T]) -> T:
    """A job's end must reach the database: wait out a server restart for up to one lease."""
    return in_transaction(ctx.engine, work, patience=ctx.settings.lease_seconds)


def _give_back(ctx: Context, job: JobRecord, token: str) -> None:
    try:
        _record(ctx, lambda c: release_job(c, job.id, token))
        logger.info("Job %s given back: PENDING again", job.id)
    except LeaseLost:  # it was finished (or taken over) just before the order came
        logger.info("Job %s was no longer ours to give back", job.id)


def _claim(ctx: Context, job_id: int | None) -> JobRecord | None:
    """Requeue jobs of dead processors (dropping their temp files), then claim one."""
    settings = ctx.settings
    for dead in in_transaction(ctx.engine, lambda c: requeue_expired(c, settings.max_attempts)):
        ctx.storage.remove_temp_outputs(dead.job_id, dead.claim_token)
    job = in_transaction(
        ctx.engine,
        lambda c: claim_next_job(
            c, worker_id=ctx.worker_id, lease_seconds=settings.lease_seconds, job_id=job_id
        ),
    )
    return job


def _lease(ctx: Context, job: JobRecord, token: str) -> LeaseKeeper:
    return LeaseKeeper(
        ctx.engine,
        job.id,
        token,
        lease_seconds=ctx.settings.lease_seconds,
        interval_seconds=ctx.settings.heartbeat_seconds,
    )


def _score(
    ctx: Context,
    job: JobRecord,
    options: ScoreOptions,
    model: LoadedModel,
    layout: TableLayout,
    path: Path,
    tmp: Path,
    lease: LeaseKeeper,
) -> _Tally:
    """Stream the CSV at `path` through the model into the temp result file, one bounded chunk
    at a time."""
    tally = _Tally()
    info = model.info
    every_class = options.probabilities == "all"
    made = _result_columns(layout.columns, model, every_class, options.warnings)
    columns = [*layout.columns, *made.names]
    answers = info.target in layout.columns  # the file says how right the model is
    summing = SummaryBuilder(info, has_target=answers, decimal=layout.decimal)
    drifting = DriftBuilder(model.profile) if model.profile is not None else None
    feature_cells = feature_columns(info, layout.columns, layout.repeated)
    ctx.progress.step(f"Job {job.id} {job.original_filename}", layout.line_count)

    def scored_chunks() -> Iterator[pd.DataFrame]:
        for chunk in read_chunks(path, layout, ctx.settings.chunk_rows):
            scored = predict_chunk(model, chunk, layout.decimal)
            if job.output_format == "xlsx":
                scored = _unscored_where(scored, too_long_for_excel(chunk))
            top = predicted_probability(scored) if scored.probabilities is not None else None
            summing.add(scored.predictions, top, chunk[info.target] if answers else None)
            chunk[made.prediction] = scored.predictions
            if made.probability is not None:
                chunk[made.probability] = top
            for label, name in made.per_class.items():
                assert scored.probabilities is not None
                chunk[name] = scored.probabilities[label]
            if drifting is not None:
                scored_rows = scored.predictions.notna().to_numpy()
                notes = drifting.add(chunk, feature_cells, scored_rows, layout.decimal)
                if made.warning is not None:
                    chunk[made.warning] = notes
            chunk[made.error] = scored.errors
            _count(tally, scored.errors)
            lease.progress(tally.rows, tally.failed)
            ctx.progress.advance(tally.rows)
            yield chunk

    probabilities = made.probabilities
    numeric = {*probabilities}
    if info.task == "regression":
        numeric.add(made.prediction)

    def summed() -> Summary:
        """The summary of every row, once they are all scored (the about sheet asks first)."""
        if tally.summary is None:
            tally.summary = summing.summary()
            tally.summary.drift = drifting.drift() if drifting is not None else None
        return tally.summary

    def about() -> list[tuple[str, str | int | float]]:
        """What the result's 'about' sheet says, asked for once every row is written."""
        ran = job.started_at.strftime("%Y-%m-%d %H:%M:%S UTC") if job.started_at else ""
        return [
            ("Job", job.id),
            ("File", job.original_filename),
            ("Model", f"{info.name}, version {info.version}"),
            ("Rows", tally.rows),
            ("Rows scored", tally.rows - tally.failed),
            ("Rows with errors", tally.failed),
            ("Read as", describe_read_as(layout.read_as())),
            ("Started", ran),
            ("Written", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")),
            ("Written by", f"batchscore {package_version('batchscore')}"),
            *evaluation_rows(summed().evaluation),
        ]

    tally.sheets = write_result(
        tmp,
        job.output_format,
        columns,
        scored_chunks(),
        expected_rows=layout.line_count,
        computed=len(made.names),
        numeric=numeric,
        keep_formulas=options.keep_formulas,
        decimal=layout.decimal,
        percent=probabilities,
        about=about,
        typed=_input_types(path, layout, ctx.settings.chunk_rows)
        if job.output_format == "parquet"
        else None,
    )
    if tally.rows == 0:
        raise InputError(NO_ROWS)
    summed()
    return tally


def _input_types(path: Path, layout: TableLayout, chunk_rows: int) -> list[pa.DataType]:
    """The types a parquet result gives the uploaded columns: a parquet file's own, else those
    the text fits whole (one more read of the file, before any row is scored)."""
    if layout.kind == "parquet":
        return parquet_types(path)
    return text_types(read_chunks(path, layout, chunk_rows), layout.decimal)


def _unscored_where(scored: Scored, reasons: pd.Series) -> Scored:
    """The scored chunk with the rows that have a reason made row errors."""
    rows = reasons.notna()
    if not rows.any():
        return scored
    errors = scored.errors.copy()
    errors[rows] = reasons[rows]
    predictions = scored.predictions.copy()
    predictions[rows] = None
    probabilities = scored.probabilities
    if probabilities is not None:
        probabilities = probabilities.copy()
        probabilities.loc[rows] = np.nan
    return Scored(predictions, errors, probabilities)


def _count(tally: _Tally, errors: pd.Series) -> None:
    failed = errors[errors.notna()]
    # The reader's index runs on across chunks, so it is the data row's position in the file.
    for position, message in failed.head(_EXAMPLES - len(tally.examples)).items():
        # Numbered as a spreadsheet shows the file: the header is row 1.
        tally.examples.append(f"row {cast(int, position) + 2}: {message}")
    tally.rows += len(errors)
    tally.failed += len(failed)


def _too_many_errors(tally: _Tally, max_fraction: float) -> str | None:
    """Why the job fails for its rows, or None if few enough could not be scored."""
    if tally.failed / tally.rows > max_fraction:
        return (
            f"{tally.failed:,} of {tally.rows:,} rows ({tally.failed / tally.rows:.1%}) could not "
            f"be scored, more than the {max_fraction:.0%} a job may leave unscored. "
            f"First problems: {'; '.join(tally.examples)}. Fix those rows and upload the file "
            "again."
        )
    return None


@dataclass(frozen=True)
class _Made:
    """The columns the model adds to a result, after the uploaded ones."""

    prediction: str
    probability: str | None  #: the predicted class's probability, by default
    per_class: dict[str, str]  #: class label → its probability's column, if asked for
    error: str
    warning: str | None  #: rows outside the training data, unless the job opted out

    @property
    def probabilities(self) -> list[str]:
        probability = [] if self.probability is None else [self.probability]
        return [*probability, *self.per_class.values()]

    @property
    def names(self) -> list[str]:
        warning = [] if self.warning is None else [self.warning]
        return [self.prediction, *self.probabilities, *warning, self.error]  # error stays last


def _result_columns(
    columns: tuple[str, ...], model: LoadedModel, every_class: bool, warnings: bool
) -> _Made:
    """'prediction', a classifier's 'probability' (or 'probability_<class>' for each class),
    'error' and, for a model with a training profile, 'warning', each suffixed _2, _3… if the
    file already has a column of that name."""
    taken = set(columns)

    def free(name: str) -> str:
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            candidate = f"{name}_{n}"
        taken.add(candidate)
        return candidate

    info = model.info
    prediction = free("prediction")
    has_probabilities = gives_probabilities(model)
    probability = free("probability") if has_probabilities and not every_class else None
    per_class = (
        {label: free(f"probability_{label}") for label in info.classes or ()}
        if has_probabilities and every_class
        else {}
    )
    warning = free("warning") if warnings and model.profile is not None else None
    return _Made(prediction, probability, per_class, free("error"), warning)


def _fail(ctx: Context, attempt: _Attempt, message: str) -> None:
    _discard(ctx, attempt)
    job, token, version, tally = attempt.job, attempt.token, attempt.model_version, attempt.tally
    # A job failed for its rows says how many it read, as its message does.
    counts = None if tally is None else (tally.rows, tally.failed)
    try:
        _record(
            ctx,
            lambda c: mark_failed(
                c, job.id, token, message, model_version=version, rows=counts, kept=attempt.kept
            ),
        )
        logger.info("Job %s failed: %s", job.id, message)
    except OSError as exc:  # disk full, folder gone or not writable: the operator must act
        logger.exception("Job %s: file system error", job.id)
        _fail(ctx, attempt, FILE_ERROR.format(reason=exc.strerror or exc))
    except LeaseLost:
        logger.warning("Job %s: lease lost before its failure could be recorded", job.id)
        _lost(ctx, attempt)  # cancelled meanwhile: the kept result goes too
