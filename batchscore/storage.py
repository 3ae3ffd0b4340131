"""The input and output folders: save uploads, name results, publish a finished file atomically.

The database stores file names relative to these folders, never absolute paths, so the folders
can move (or be shared storage mounted elsewhere) without touching the job table.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from batchscore.errors import InputError, TooLarge

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
    input_dir: Path
    output_dir: Path

    def create_folders(self) -> None:
        self.input_dir.mkdir(parents=True, exist_ok=True)
        self.output_dir.mkdir(parents=True, exist_ok=True)

    def receive_input(self, filename: str, max_bytes: int) -> InputReceiver:
        """Start writing an upload into the input folder, block by block, as it arrives."""
        return InputReceiver(self.input_dir, filename, max_bytes)

    def save_input(self, source: BinaryIO, filename: str, max_bytes: int) -> StoredInput:
        """Stream `source` into the input folder under a new unique name; TooLarge if too large."""
        receiver = self.receive_input(filename, max_bytes)
        try:
            while block := source.read(_COPY_BLOCK):
                receiver.write(block)
            return receiver.finish()
        finally:
            receiver.discard()

    def input_path(self, name: str) -> Path:
        return _inside(self.input_dir, name)

    def output_path(self, name: str) -> Path:
        return _inside(self.output_dir, name)

    def result_name(self, job_id: int, original_filename: str, output_format: str) -> str:
        """The final result name: one per job, so a re-run rewrites the same file."""
        return f"job-{job_id}-{safe_stem(original_filename)}.{output_format}"

    def temp_output(self, job_id: int, claim_token: str, output_format: str) -> Path:
        """A hidden name per claim: two attempts on one job never write the same temp file."""
        return self.output_dir / f".job-{job_id}-{claim_token[:8]}.{output_format}.part"

    def remove_temp_outputs(self, job_id: int, claim_token: str = "") -> None:
        """Delete temp files of a dead claim on this job, or of every earlier claim.

        Call it only for claims that are void (expired, or superseded by the caller's own).
        Safe even if such a processor is alive but frozen: it keeps writing to the unlinked
        file, its rename then fails, and its claim is already void.
        """
        self.delete(*self.output_dir.glob(f".job-{job_id}-{claim_token[:8]}*.part"))

    def publish(self, tmp: Path, name: str) -> Path:
        """Rename a finished, fsync'd temp file to its final name: never seen half-done."""
        final = self.output_path(name)
        os.replace(tmp, final)
        _fsync_dir(self.output_dir)
        return final

    def delete(self, *paths: Path) -> None:
        """Remove files if they are there; a missing file or folder is not an error."""
        for path in paths:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                path.unlink()

    def copy_input(self, path: Path, max_bytes: int) -> StoredInput:
        """Save a local file (the CLI's `submit`) exactly as an upload would be saved."""
        try:
            source = path.open("rb")
        except FileNotFoundError as exc:
            raise InputError(f"File not found: {path}") from exc
        except IsADirectoryError as exc:
            raise InputError(f"{path} is a folder, not a CSV file.") from exc
        with source:
            return self.save_input(source, path.name, max_bytes)


class InputReceiver:
    """An upload on its way into the input folder: write() blocks, then finish() or discard().

    The blocks go to a hidden temporary name, renamed only by finish(), so a half-received
    upload is never taken for a whole one; memory stays at one block whatever the file's size.
    """

    def __init__(self, input_dir: Path, filename: str, max_bytes: int) -> None:
        self.filename, self.max_bytes = filename, max_bytes
        self.name = f"{uuid.uuid4().hex[:12]}-{safe_stem(filename)}.csv"
        self._final = input_dir / self.name
        self._tmp = input_dir / f".{self.name}.part"
        self._file = self._tmp.open("wb")
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, block: bytes) -> None:
        self.size += len(block)
        if self.size > self.max_bytes:
            raise TooLarge(
                f"{self.filename} is larger than the upload limit of {self.max_bytes:,} bytes."
            )
        self._digest.update(block)
        self._file.write(block)

    def finish(self) -> StoredInput:
        """Make the file durable and give it its final name."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._tmp, self._final)
        return StoredInput(name=self.name, sha256=self._digest.hexdigest(), size_bytes=self.size)

    def discard(self) -> None:
        """Drop an unfinished upload; does nothing after finish()."""
        self._file.close()
        self._tmp.unlink(missing_ok=True)


def _inside(folder: Path, name: str) -> Path:
    path = folder / name
    if Path(name).name != name or name in ("", ".", ".."):
        raise ValueError(f"Refusing a stored file name with a path in it: {name!r}")
    return path


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
