"""Storage on both backends: a local folder and a bucket on a real S3-compatible server."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from s3_server import BUCKET, Bucket

from batchscore.config import Settings
from batchscore.errors import ConfigError, TooLarge
from batchscore.folders import open_folder
from batchscore.storage import Storage

BIG = 9 * 1024 * 1024  # more than one 8 MiB part: a real multipart upload


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Storage]:
    if request.param == "s3":
        settings = request.getfixturevalue("s3_settings")
    storage = Storage.from_settings(settings)
    storage.create_folders()
    yield storage


def visible(storage: Storage) -> tuple[list[str], list[str]]:
    """Every name in the input and the output folder, hidden temp names included."""
    return storage.inputs.names(), storage.outputs.names()


def nothing_left_open(request: pytest.FixtureRequest) -> bool:
    """No multipart upload of the bucket (if this test has one) is still open."""
    if "bucket" not in request.fixturenames:
        return True
    bucket: Bucket = request.getfixturevalue("bucket")
    return bucket.open_uploads() == []


@pytest.mark.parametrize("size", [10, BIG])
def test_saved_input_reads_back_whole(storage: Storage, size: int) -> None:
    data = (b"a,b\n" + b"1,2\n" * size)[:size]
    stored = storage.save_input(io.BytesIO(data), "My File.csv", max_bytes=size)
    assert (stored.size_bytes, stored.sha256) == (size, hashlib.sha256(data).hexdigest())
    assert stored.name.endswith("-My_File.csv")
    assert visible(storage) == ([stored.name], [])
    with storage.local_input(stored.name) as path:
        assert path.read_bytes() == data


def test_upload_past_the_limit_leaves_nothing(
    storage: Storage, request: pytest.FixtureRequest
) -> None:
    with pytest.raises(TooLarge):
        storage.save_input(io.BytesIO(b"x" * BIG), "big.csv", max_bytes=BIG - 1)
    assert visible(storage) == ([], [])
    assert nothing_left_open(request)


def test_discarded_upload_leaves_nothing(storage: Storage, request: pytest.FixtureRequest) -> None:
    receiver = storage.receive_input("half.csv", max_bytes=2 * BIG)
    receiver.write(b"x" * BIG)
    assert visible(storage) in (([], []), ([f".{receiver.name}.part"], []))  # never final
    receiver.discard()
    assert visible(storage) == ([], [])
    assert nothing_left_open(request)


def test_published_result_appears_whole_under_its_name(storage: Storage) -> None:
    tmp = storage.temp_output(7, "claim-token", "csv")
    tmp.write_bytes(b"a,prediction\n1,x\n")
    name = storage.result_name(7, "scores.csv", "csv")
    assert visible(storage)[1] == ([tmp.name] if tmp.parent == Path(storage.outputs.root) else [])
    storage.publish(tmp, name)
    assert visible(storage) == ([], [name]) and not tmp.exists()
    with storage.open_output(name) as file:
        assert file.read() == b"a,prediction\n1,x\n"


def test_dead_claims_temp_files_are_removed(storage: Storage) -> None:
    stored = storage.save_input(io.BytesIO(b"a\n1\n"), "in.csv", max_bytes=100)
    dead = storage.temp_output(3, "dead-claim", "xlsx")
    live = storage.temp_output(4, "live-claim", "xlsx")
    dead.write_bytes(b"half")
    live.write_bytes(b"half")
    with storage.local_input(stored.name, 3, "dead-claim") as spool:
        storage.remove_temp_outputs(3, "dead-claim")
        assert not dead.exists() and live.exists()
        if spool.parent == storage.scratch:  # a bucket's input is a copy named after the claim
            assert not spool.exists()
    in_bucket = storage.outputs.local_path(stored.name) is None
    assert visible(storage) == ([stored.name], [] if in_bucket else [live.name])  # never uploaded


def test_spool_copy_is_removed_after_use(storage: Storage) -> None:
    stored = storage.save_input(io.BytesIO(b"a\n1\n"), "in.csv", max_bytes=100)
    with storage.local_input(stored.name, 5, "a-claim") as path:
        assert path.read_bytes() == b"a\n1\n"
    assert path.exists() == (storage.inputs.local_path(stored.name) is not None)


def test_delete_removes_files_and_ignores_missing_ones(storage: Storage) -> None:
    stored = storage.save_input(io.BytesIO(b"a\n1\n"), "in.csv", max_bytes=100)
    tmp = storage.temp_output(1, "token", "csv")
    tmp.write_bytes(b"a\n")
    storage.publish(tmp, "job-1-in.csv")
    storage.delete_input(stored.name)
    storage.delete_output("job-1-in.csv")
    storage.delete_output("job-1-in.csv")
    storage.delete_input("never-there.csv")
    assert visible(storage) == ([], [])


@pytest.mark.parametrize("name", ["", "..", "../x.csv", "a/b.csv"])
def test_a_name_with_a_path_is_refused(storage: Storage, name: str) -> None:
    with pytest.raises(ValueError, match="Refusing a stored file name"):
        storage.delete_input(name)


def test_missing_bucket_is_a_config_error_naming_it(bucket: Bucket) -> None:
    folder = open_folder(f"s3://not-{BUCKET}/input", bucket.endpoint)
    with pytest.raises(ConfigError, match=f"Bucket not-{BUCKET} of s3://not-{BUCKET}/input does"):
        folder.create()


@pytest.mark.slow  # botocore retries for seconds before it gives up
def test_unreachable_server_is_a_config_error(bucket: Bucket) -> None:
    folder = open_folder(f"s3://{BUCKET}/input", "http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="Check S3_ENDPOINT_URL and the AWS credentials"):
        folder.create()
