"""A stored result as an HTTP attachment: a local file as it is, a bucket object streamed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from starlette.responses import FileResponse, Response, StreamingResponse

from batchscore.storage import Storage

_BLOCK = 1024 * 1024


def result_response(storage: Storage, name: str, media_type: str, filename: str) -> Response:
    """Send result `name` as the download `filename` (an ASCII-safe name: see safe_stem)."""
    local = storage.outputs.local_path(name)
    if local is not None:  # ranges, ETag and sendfile for free
        return FileResponse(local, media_type=media_type, filename=filename)
    size = storage.outputs.size(name)  # a missing object fails here, before any byte is sent
    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Content-Length": str(size),
    }
    return StreamingResponse(
        _blocks(storage.open_output(name)), media_type=media_type, headers=headers
    )


def _blocks(file: BinaryIO) -> Iterator[bytes]:
    """Read in blocks; Starlette runs this sync iterator in its thread pool."""
    with file:
        while block := file.read(_BLOCK):
            yield block
