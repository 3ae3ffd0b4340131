"""The input and output folders: save uploads, name results, publish a finished file atomically.

The folders are local or S3-compatible object storage (batchscore.folders). The database
stores file names relative to them, never absolute paths or URLs, so the folders can move
without touching the job table. Pandas, our CSV reader and the xlsx writer need local files:
with a bucket, a job's input is copied to, and its result written in, the local cache folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from batchscore.config import Settings
from batchscore.errors import TooLarge
from batchscore.folders import Folder, LocalFolder, Writer, open_folder

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_COPY_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class StoredInput:
    name: str  #: file name inside the input folder
    sha256: str
    size_bytes: int


def safe_stem(filename: str, max_length: int = 60) -> str:
    """The file's stem reduced to characters that are safe on every file system and in URLs."""
    stem = Path(filename.replace("\\", "/")).stem
    return _UNSAFE.sub("_", stem).strip("._")[:max_length] or "upload"


@dataclass(frozen=True)
class Storage:
    inputs: Folder
    outputs: Folder
    scratch: Path  #: local temp files: the output folder itself, or the cache for a bucket

    @classmethod
    def from_settings(cls, settings: Settings) -> Storage:
        outputs = open_folder(settings.output_dir, settings.s3_endpoint_url)
        return cls(
            inputs=open_folder(settings.input_dir, settings.s3_endpoint_url),
            outputs=outputs,
            scratch=Path(outputs.root) if isinstance(outputs, LocalFolder) else settings.cache_dir,
        )

    def create_folders(self) -> None:
        """Create the folders (ConfigError when a bucket is missing or can't be reached)."""
        self.inputs.create()
        self.outputs.create()
        self.scratch.mkdir(parents=True, exist_ok=True)

    def receive_input(self, filename: str, max_bytes: int) -> InputReceiver:
        """Start writing an upload into the input folder, block by block, as it arrives."""
        name = f"{uuid.uuid4().hex[:12]}-{safe_stem(filename)}.csv"
        return InputReceiver(self.inputs.writer(name), name, filename, max_bytes)

    def save_input(self, source: BinaryIO, filename: str, max_bytes: int) -> StoredInput:
        """Stream `source` into the input folder under a new unique name; TooLarge if too large."""
        receiver = self.receive_input(filename, max_bytes)
        try:
            while block := source.read(_COPY_BLOCK):
                receiver.write(block)
            return receiver.finish()
        finally:
            receiver.discard()

    @contextlib.contextmanager
    def local_input(self, name: str, job_id: int = 0, claim_token: str = "") -> Iterator[Path]:
        """The stored input as a local file for the CSV reader, for the `with` block's length.

        From a bucket it is copied into the cache folder and removed afterwards; the copy is
        named after the claim, so remove_temp_outputs also drops that of a dead processor.
        """
        local = self.inputs.local_path(name)
        if local is not None:
            yield local
            return
        tag = claim_token or uuid.uuid4().hex
        spool = self.scratch / f".job-{job_id}-{tag[:8]}.input.part"
        try:
            self.inputs.fs.get_file(self.inputs.path(name), str(spool))
            yield spool
        finally:
            spool.unlink(missing_ok=True)

    def open_output(self, name: str) -> BinaryIO:
        """Read a published result (from a bucket: streamed in ranged reads)."""
        return self.outputs.open(name)

    def output_url(self, name: str) -> str:
        """Where a result is, for people: a local path or s3://bucket/key."""
        return f"{self.outputs.url.rstrip('/')}/{name}"

    def result_name(
        self, job_id: int, original_filename: str, output_format: str, *, failed: bool = False
    ) -> str:
        """The final result name: one per job, so a re-run rewrites the same file. The result
        of a job failed for its rows, kept for its bad rows, has a name of its own: removed
        after a retry, it can never be the new run's result."""
        suffix = "-failed" if failed else ""
        return f"job-{job_id}-{safe_stem(original_filename)}{suffix}.{output_format}"

    def temp_output(self, job_id: int, claim_token: str, output_format: str) -> Path:
        """A hidden local name per claim: two attempts on one job never write the same file."""
        return self.scratch / f".job-{job_id}-{claim_token[:8]}.{output_format}.part"

    def remove_temp_outputs(self, job_id: int, claim_token: str = "") -> None:
        """Delete temp files of a dead claim on this job, or of every earlier claim.

        Call it only for claims that are void (expired, or superseded by the caller's own).
        Safe even if such a processor is alive but frozen: it keeps writing to the unlinked
        file, its publish then fails, and its claim is already void. With a bucket the temp
        files are local (nothing half-done is ever uploaded): this host's are removed.
        """
        for path in self.scratch.glob(f".job-{job_id}-{claim_token[:8]}*.part"):
            self.discard_temp(path)

    def publish(self, tmp: Path, name: str) -> None:
        """Give a finished, fsync'd temp file its final name: never seen half-done."""
        self.outputs.put(tmp, name)

    def discard_temp(self, tmp: Path) -> None:
        """Remove a local temp file if it is there."""
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            tmp.unlink()

    def delete_input(self, name: str) -> None:
        """Remove a stored input if it is there; a missing file is not an error."""
        self.inputs.remove(name)

    def delete_output(self, name: str) -> None:
        """Remove a published result if it is there; a missing file is not an error."""
        self.outputs.remove(name)


class InputReceiver:
    """An upload on its way into the input folder: write() blocks, then finish() or discard().

    The blocks go to a Writer that makes the file visible only at finish(), so a half-received
    upload is never taken for a whole one; memory stays at one block (a multipart upload's
    part, for a bucket) whatever the file's size.
    """

    def __init__(self, writer: Writer, name: str, filename: str, max_bytes: int) -> None:
        self.name, self.filename, self.max_bytes = name, filename, max_bytes
        self._writer = writer
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, block: bytes) -> None:
        self.size += len(block)
        if self.size > self.max_bytes:
            raise TooLarge(
                f"{self.filename} is larger than the upload limit of {self.max_bytes:,} bytes."
            )
        self._digest.update(block)
        self._writer.write(block)

    def finish(self) -> StoredInput:
        """Make the file durable and give it its final name."""
        self._writer.commit()
        return StoredInput(name=self.name, sha256=self._digest.hexdigest(), size_bytes=self.size)

    def discard(self) -> None:
        """Drop an unfinished upload; does nothing after finish()."""
        self._writer.discard()
