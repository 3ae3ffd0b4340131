"""Accepting work: save the file, check it against the model, register a PENDING job.

The CLI's `submit` and the upload API both come here, so a file is judged the same way
whichever door it came in by, and a file that can't be scored is refused before it queues.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import BinaryIO

from batchscore.config import OUTPUT_FORMATS, Settings
from batchscore.db.engine import in_transaction
from batchscore.db.jobs import IdempotencyKey, JobKind, JobRecord, create_job, keyed_job
from batchscore.errors import InputError, KeyInUse
from batchscore.model import registry
from batchscore.model.metadata import ModelInfo, checked_name
from batchscore.model.registry import load_model
from batchscore.model.schema import check_columns
from batchscore.model.train import TrainPlan
from batchscore.scheduler.context import Context
from batchscore.scheduler.reading import NO_ROWS
from batchscore.scheduler.score_options import ScoreOptions
from batchscore.scheduler.train_jobs import check_training_file, plan_options
from batchscore.service.webhooks import callback_for
from batchscore.storage import StoredInput


def submit_file(
    ctx: Context,
    source: BinaryIO,
    filename: str,
    *,
    model_name: str | None = None,
    output_format: str | None = None,
    options: ScoreOptions | None = None,
    owner_id: int | None = None,
    callback_url: str | None = None,
) -> JobRecord:
    """Store `source` and queue it; InputError / NotFound / ModelError say why not.

    Nothing is kept of a refused file.
    """
    _check_format(output_format)
    load_model(ctx.settings.model_dir, model_name or ctx.settings.default_model)  # refuse early
    callback_for(ctx, owner_id, callback_url)
    stored = ctx.storage.save_input(source, filename, ctx.settings.max_upload_bytes)
    return queue_stored(
        ctx,
        stored,
        filename,
        model_name=model_name,
        output_format=output_format,
        options=options,
        owner_id=owner_id,
        callback_url=callback_url,
    )


def queue_stored(
    ctx: Context,
    stored: StoredInput,
    filename: str,
    *,
    model_name: str | None = None,
    output_format: str | None = None,
    options: ScoreOptions | None = None,
    owner_id: int | None = None,
    idempotency: IdempotencyKey | None = None,
    callback_url: str | None = None,
) -> JobRecord:
    """Queue a file already saved in the input folder (an upload streamed there), or delete it
    and raise InputError / NotFound / ModelError saying why not. The job's webhook goes to
    `callback_url`, else to its owner's default one."""
    settings = ctx.settings
    try:
        callback = callback_for(ctx, owner_id, callback_url)
        output_format = _check_format(output_format) or settings.output_format
        model = load_model(settings.model_dir, model_name or settings.default_model)
        options = options or ScoreOptions()
        ctx.progress.step(f"Checking {filename}")
        with ctx.storage.local_input(stored.name) as path:
            layout = options.layout_of(path)
        _check_fit(settings, model.info, layout.columns, layout.repeated)
        if layout.line_count == 0:
            raise InputError(NO_ROWS)
        return in_transaction(
            ctx.engine,
            lambda c: create_job(
                c,
                owner_id=owner_id,
                original_filename=filename,
                input_name=stored.name,
                input_sha256=stored.sha256,
                input_bytes=stored.size_bytes,
                model_name=model.info.name,
                model_version=None,
                output_format=output_format,
                options=options.to_json(),
                read_as=layout.read_as(),
                idempotency=idempotency,
                callback_url=callback,
            ),
        )
    except BaseException:
        ctx.storage.delete_input(stored.name)
        raise


def _check_format(output_format: str | None) -> str | None:
    """The format asked for, or None for the configured default."""
    if output_format and output_format not in OUTPUT_FORMATS:
        raise InputError(
            f"Unknown output format {output_format!r}; choose one of {', '.join(OUTPUT_FORMATS)}."
        )
    return output_format or None


def queue_training(
    ctx: Context,
    stored: StoredInput,
    filename: str,
    *,
    model_name: str,
    plan: TrainPlan,
    owner_id: int | None = None,
    idempotency: IdempotencyKey | None = None,
    callback_url: str | None = None,
) -> JobRecord:
    """Queue a labelled file already in the input folder to train a new version of
    `model_name`, or delete it and raise InputError / NotFound / ModelError saying why not."""
    try:
        checked_name(model_name, InputError)
        callback = callback_for(ctx, owner_id, callback_url)
        with ctx.storage.local_input(stored.name) as path:
            check_training_file(ctx.settings, path, model_name, plan)
        return in_transaction(
            ctx.engine,
            lambda c: create_job(
                c,
                kind=JobKind.TRAIN,
                options=plan_options(plan),
                owner_id=owner_id,
                original_filename=filename,
                input_name=stored.name,
                input_sha256=stored.sha256,
                input_bytes=stored.size_bytes,
                model_name=model_name,
                model_version=None,
                output_format="",  # a train job's result is a model version, not a file
                idempotency=idempotency,
                callback_url=callback,
            ),
        )
    except BaseException:
        ctx.storage.delete_input(stored.name)
        raise


def queue_once(
    ctx: Context,
    stored: StoredInput,
    idempotency: IdempotencyKey | None,
    queue: Callable[[], JobRecord],
) -> tuple[JobRecord, bool]:
    """The job `queue` makes of `stored` (with the key), or the one an earlier request with the
    same key made (the file is then deleted), and whether it is that earlier one.

    A key that came with a different request is an InputError: the client is reusing keys.
    """
    if idempotency is None:
        return queue(), False
    earlier = in_transaction(ctx.engine, lambda c: keyed_job(c, idempotency))
    if earlier is None:
        try:
            return queue(), False
        except KeyInUse:  # a concurrent request with the key made its job first
            earlier = in_transaction(ctx.engine, lambda c: keyed_job(c, idempotency))
            if earlier is None:  # and it is deleted already
                raise
    else:
        ctx.storage.delete_input(stored.name)
    job, request_sha256 = earlier
    if request_sha256 != idempotency.request_sha256:
        raise InputError(
            f"The Idempotency-Key {idempotency.key!r} came with a different request, which "
            f"made job {job.id}; send a new key with each new request."
        )
    return job, True


def _check_fit(
    settings: Settings, info: ModelInfo, columns: tuple[str, ...], repeated: Collection[str]
) -> None:
    """The refusal of a file the chosen model cannot take names the models that can take it."""
    try:
        check_columns(info, columns, repeated)
    except InputError as exc:
        fitting = [
            other.name
            for other in registry.list_models(settings.model_dir)
            if other.name != info.name and _fits(other, columns, repeated)
        ]
        if not fitting:
            raise
        names = " or ".join(fitting[:3])
        raise InputError(
            f"{exc.message} These columns fit model {names}: choose it instead."
        ) from exc


def _fits(info: ModelInfo, columns: tuple[str, ...], repeated: Collection[str]) -> bool:
    try:
        check_columns(info, columns, repeated)
    except InputError:
        return False
    return True
