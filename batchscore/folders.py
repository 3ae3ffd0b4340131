"""Where stored files live: a local folder or an S3-compatible bucket prefix, both via fsspec.

A Folder holds files by plain name. A file appears under its name only when whole: locally a
hidden temp name renamed into place and fsync'd; in a bucket one PUT or completed multipart
upload. Credentials come from the standard AWS environment variables and config files.
"""

from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast

import fsspec
from fsspec.implementations.local import LocalFileSystem

from batchscore.errors import ConfigError

S3_SCHEME = "s3://"
_PART_BYTES = 8 * 1024 * 1024  # a multipart upload's part; S3 needs ≥ 5 MiB but the last


class Writer(Protocol):
    """A file being written: blocks in, then commit() (it appears whole) or discard()."""

    def write(self, block: bytes) -> object: ...
    def commit(self) -> None: ...
    def discard(self) -> None: ...


class Folder(ABC):
    """One storage location; names inside it never hold a path."""

    def __init__(self, fs: Any, root: str, url: str) -> None:
        self.fs, self.root, self.url = fs, root, url

    def path(self, name: str) -> str:
        """The file system path of `name`; ValueError if the name would leave the folder."""
        if not name or name in (".", "..") or "/" in name or "\\" in name:
            raise ValueError(f"Refusing a stored file name with a path in it: {name!r}")
        return f"{self.root}/{name}"

    def open(self, name: str) -> BinaryIO:
        """Open a stored file for reading (ranged reads in a bucket)."""
        return cast(BinaryIO, self.fs.open(self.path(name), "rb", block_size=_PART_BYTES))

    def size(self, name: str) -> int:
        return int(self.fs.size(self.path(name)))

    def remove(self, name: str) -> None:
        """Remove a file if it is there; a missing file is not an error."""
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            self.fs.rm_file(self.path(name))

    def names(self) -> list[str]:
        """Every file name in the folder (for tests and tools), sorted."""
        return sorted(p.rsplit("/", 1)[-1] for p in self.fs.find(self.root, withdirs=False))

    @abstractmethod
    def create(self) -> None:
        """Make sure the folder can be used (create it, or check the bucket is reachable)."""

    @abstractmethod
    def writer(self, name: str) -> Writer:
        """Start writing `name`; nobody sees it before commit()."""

    @abstractmethod
    def put(self, local: Path, name: str) -> None:
        """Store a finished local file as `name`, whole or not at all; `local` is gone after."""

    @abstractmethod
    def local_path(self, name: str) -> Path | None:
        """`name` as a local file, or None when it lives in a bucket."""


class LocalFolder(Folder):
    def __init__(self, folder: str) -> None:
        super().__init__(LocalFileSystem(), folder.rstrip("/") or "/", folder)

    def create(self) -> None:
        Path(self.root).mkdir(parents=True, exist_ok=True)

    def writer(self, name: str) -> Writer:
        return _PartFile(Path(self.path(name)))

    def put(self, local: Path, name: str) -> None:
        os.replace(local, self.path(name))
        _fsync_dir(Path(self.root))

    def local_path(self, name: str) -> Path:
        return Path(self.path(name))


class BucketFolder(Folder):
    """A prefix in an S3-compatible bucket; s3fs is imported only when one is configured."""

    def __init__(self, url: str, endpoint_url: str = "") -> None:
        options: dict[str, object] = {"use_listings_cache": False}
        if endpoint_url:
            options["endpoint_url"] = endpoint_url
        super().__init__(fsspec.filesystem("s3", **options), url.removeprefix(S3_SCHEME), url)
        self.bucket = self.root.split("/", 1)[0]
        self.endpoint_url = endpoint_url or "AWS"

    def create(self) -> None:
        try:
            self.fs.call_s3("head_bucket", Bucket=self.bucket)  # proves bucket and credentials
        except FileNotFoundError as exc:
            raise ConfigError(
                f"Bucket {self.bucket} of {self.url} does not exist at {self.endpoint_url}: "
                "create it first."
            ) from exc
        except Exception as exc:  # botocore's credential and connection errors share no base
            raise ConfigError(
                f"Cannot use {self.url}: {exc}. Check S3_ENDPOINT_URL and the AWS credentials "
                "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION or ~/.aws/)."
            ) from exc

    def writer(self, name: str) -> Writer:
        # autocommit=False: the parts go up as they fill, the object appears at commit().
        file = self.fs.open(self.path(name), "wb", autocommit=False, block_size=_PART_BYTES)
        return _Upload(file)

    def put(self, local: Path, name: str) -> None:
        self.fs.put_file(str(local), self.path(name))  # a PUT, or a completed multipart upload
        local.unlink()

    def local_path(self, name: str) -> None:
        return None


def open_folder(location: str, endpoint_url: str = "") -> Folder:
    """The Folder for a configured location: s3://bucket/prefix, or a local folder."""
    if location.startswith(S3_SCHEME):
        return BucketFolder(location, endpoint_url)
    return LocalFolder(location)


class _PartFile:
    """Writes to a hidden `.NAME.part` beside the final name; commit() fsyncs and renames."""

    def __init__(self, final: Path) -> None:
        self._final = final
        self._tmp = final.with_name(f".{final.name}.part")
        self._file = self._tmp.open("wb")

    def write(self, block: bytes) -> object:
        return self._file.write(block)

    def commit(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._tmp, self._final)
        _fsync_dir(self._final.parent)

    def discard(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)


class _Upload:
    """An s3fs file opened with autocommit=False: close() sends the last part, and then
    commit() completes the multipart upload or discard() aborts it."""

    def __init__(self, file: Any) -> None:
        self._file = file
        self._done = False

    def write(self, block: bytes) -> object:
        return self._file.write(block)

    def commit(self) -> None:
        self._file.close()
        self._file.commit()
        self._done = True

    def discard(self) -> None:
        if self._done:
            return
        self._done = True
        if not self._file.closed:
            self._file.close()
        self._file.discard()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
