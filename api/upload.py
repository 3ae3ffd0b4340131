"""Receive a multipart upload straight into the input folder while it arrives.

Starlette's form parser spools a file part to a temporary file (often a RAM-backed /tmp) and
we would then copy it: a multi-GB upload would cost twice the disk writes, or RAM. Here the
request body is parsed as it streams (streaming-form-data) and the file part is written where
it will stay; memory holds one block, whatever the file's size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from streaming_form_data import StreamingFormDataParser
from streaming_form_data.parser import ParseFailedException
from streaming_form_data.targets import BaseTarget, ValueTarget
from streaming_form_data.validators import MaxSizeValidator, ValidationError

from batchscore.errors import InputError, TooLarge
from batchscore.storage import InputReceiver, Storage, StoredInput

T = TypeVar("T")
FILE_FIELD = "file"
NO_FILE = f"Send the CSV file as the multipart form field '{FILE_FIELD}'."
_BLOCK = 1024 * 1024  # body bytes handed to the parser (in a worker thread) at a time
_MAX_FIELD_BYTES = 4096  # a callback URL may be 2,048
_MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file itself


@dataclass
class Upload:
    stored: StoredInput
    filename: str
    fields: dict[str, str] = field(default_factory=dict)  #: the small text fields asked for


class _FileTarget(BaseTarget):  # type: ignore[misc]  # untyped base class
    """Writes the file part through an InputReceiver opened when the part's headers are in."""

    def __init__(self, storage: Storage, max_bytes: int) -> None:
        super().__init__()
        self._storage, self._max_bytes = storage, max_bytes
        self.receiver: InputReceiver | None = None
        self.stored: StoredInput | None = None

    def on_start(self) -> None:
        if self.multipart_filename is None:  # a plain text field, not a file
            raise InputError(NO_FILE)
        if self.receiver is not None:
            raise InputError(f"Send one file only in the form field '{FILE_FIELD}'.")
        self.receiver = self._storage.receive_input(
            _unescape(self.multipart_filename) or "upload.csv", self._max_bytes
        )

    def on_data_received(self, chunk: bytes) -> None:
        assert self.receiver is not None
        self.receiver.write(chunk)

    def on_finish(self) -> None:
        assert self.receiver is not None
        self.stored = self.receiver.finish()

    def discard(self) -> None:
        """Remove what was received, finished or not."""
        if self.receiver is not None:
            self.receiver.discard()
        if self.stored is not None:
            self._storage.delete_input(self.stored.name)


def _unescape(filename: str) -> str:
    """Undo the form encoding of browsers and httpx, which send '"', CR and LF as %22, %0D, %0A."""
    return filename.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")


async def receive_upload(
    request: Request,
    storage: Storage,
    max_bytes: int,
    fields: tuple[str, ...],
    parse: Callable[[dict[str, str]], T],
) -> tuple[Upload, T]:
    """Save the form's file part in the input folder, read the named text fields and `parse`
    them (raising BatchscoreError for a bad one).

    InputError for a body that is not a multipart form with a file; TooLarge past `max_bytes`.
    Nothing stays in the input folder unless an Upload is returned.
    """
    if int(request.headers.get("content-length") or 0) > max_bytes + _MULTIPART_OVERHEAD:
        raise TooLarge(f"The upload is larger than the limit of {max_bytes:,} bytes.")
    try:
        parser = StreamingFormDataParser(request.headers)
    except ParseFailedException as exc:
        raise InputError(NO_FILE) from exc
    target = _FileTarget(storage, max_bytes)
    parser.register(FILE_FIELD, target)
    values = {name: ValueTarget(validator=MaxSizeValidator(_MAX_FIELD_BYTES)) for name in fields}
    for name, value in values.items():
        parser.register(name, value)
    try:
        await _feed(request, parser)
        if target.stored is None or target.receiver is None:
            raise InputError(NO_FILE)
        texts = _texts(values)
        return Upload(target.stored, target.receiver.filename, texts), parse(texts)
    except BaseException:
        target.discard()
        raise


async def _feed(request: Request, parser: StreamingFormDataParser) -> None:
    """Hand the body to the parser in blocks, off the event loop (it hashes and writes)."""
    block = bytearray()
    try:
        async for chunk in request.stream():
            block += chunk
            if len(block) >= _BLOCK:
                await run_in_threadpool(parser.data_received, bytes(block))
                block.clear()
        if block:
            await run_in_threadpool(parser.data_received, bytes(block))
    except ParseFailedException as exc:
        raise InputError(f"The upload is not a well-formed multipart form: {exc}.") from exc
    except ValidationError as exc:
        raise InputError(f"A form field is longer than {_MAX_FIELD_BYTES} bytes.") from exc
    except ClientDisconnect as exc:  # nobody is left to answer; say why in the access log
        raise InputError("The client disconnected before the upload was complete.") from exc


def _texts(values: dict[str, ValueTarget]) -> dict[str, str]:
    texts = {}
    for name, target in values.items():
        if target.multipart_filename is None and target.value:
            try:
                texts[name] = target.value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"The form field '{name}' is not UTF-8 text.") from exc
    return texts
