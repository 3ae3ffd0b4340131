"""A real S3-compatible server for tests: moto's server mode on 127.0.0.1, in a thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import fsspec
import httpx2

from batchscore.config import Settings

BUCKET = "batchscore"
# moto accepts any credentials; these keep botocore from looking for real ones.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def moto_server() -> Iterator[str]:
    """Start moto's S3 server on a free loopback port; yield its endpoint URL."""
    from moto.server import ThreadedMotoServer  # imported here: slow, and only S3 tests need it

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def in_bucket(settings: Settings, endpoint: str) -> Settings:
    """`settings` with the input and output folders in BUCKET on the server at `endpoint`."""
    return replace(
        settings,
        input_dir=f"s3://{BUCKET}/input",
        output_dir=f"s3://{BUCKET}/output",
        s3_endpoint_url=endpoint,
    )


class Bucket:
    """The test bucket seen from outside our code (listings are never cached)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.fs: Any = fsspec.filesystem(
            "s3", endpoint_url=endpoint, use_listings_cache=False, skip_instance_cache=True
        )

    def reset(self) -> None:
        """Forget every bucket and object (moto's reset), then create an empty BUCKET."""
        httpx2.post(f"{self.endpoint}/moto-api/reset").raise_for_status()
        self.fs.mkdir(BUCKET)

    def keys(self, prefix: str = "") -> list[str]:
        """Every key in the bucket under `prefix`, sorted."""
        listing = self.fs.call_s3("list_objects_v2", Bucket=BUCKET, Prefix=prefix)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def open_uploads(self) -> list[str]:
        """Keys of multipart uploads begun and neither completed nor aborted."""
        listing = self.fs.call_s3("list_multipart_uploads", Bucket=BUCKET)
        return sorted(item["Key"] for item in listing.get("Uploads", []))

    def read(self, key: str) -> bytes:
        return bytes(self.fs.cat_file(f"{BUCKET}/{key}"))
