"""load_settings: file, environment overrides, validation, secrets, and the README table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from batchscore.config import KNOWN_KEYS, SAMPLE_SECRET, load_settings
from batchscore.errors import ConfigError

README = Path(__file__).parents[1] / "README.md"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_run_on_sqlite_under_the_config_folder(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path / "c.properties", ""), environ={})
    assert str(settings.database_url) == f"sqlite:///{tmp_path / 'data' / 'batchscore.db'}"
    assert settings.input_dir == str(tmp_path / "data" / "input")
    assert settings.output_dir == str(tmp_path / "data" / "output")
    assert (settings.lease_seconds, settings.max_attempts, settings.output_format) == (
        30.0,
        3,
        "xlsx",
    )


def test_seed_mysql_keys_build_a_pymysql_url(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.properties", "HOST=db.local\nUSER=me\nPASSWORD=p@ss:word\nDBNAME=jobs\n"
    )
    url = str(load_settings(path, environ={}).database_url)
    assert url == "mysql+pymysql://me:p%40ss%3Aword@db.local:3306/jobs?charset=utf8mb4"


def test_db_url_wins_over_host_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.properties", "HOST=db.local\nUSER=me\nDBNAME=x\nDB_URL=sqlite:///a.db\n"
    )
    assert str(load_settings(path, environ={}).database_url) == "sqlite:///a.db"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "c.properties", "LEASE_SECONDS=30\nINPUT_DIR=in\n")
    settings = load_settings(
        path, environ={"BATCHSCORE_LEASE_SECONDS": "7.5", "BATCHSCORE_INPUT_DIR": "/srv/in"}
    )
    assert (settings.lease_seconds, settings.input_dir) == (7.5, "/srv/in")


def test_folders_may_be_buckets_by_url(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.properties",
        "INPUT_DIR=s3://data-bucket/batch/input/\nOUTPUT_DIR=s3://data-bucket\n"
        "S3_ENDPOINT_URL=http://minio:9000/\n",
    )
    settings = load_settings(path, environ={})
    assert (settings.input_dir, settings.output_dir, settings.s3_endpoint_url) == (
        "s3://data-bucket/batch/input",
        "s3://data-bucket",
        "http://minio:9000",
    )
    assert settings.cache_dir == tmp_path / "data" / "cache"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "MAX_ATTEMPTS=0",
            "Config key MAX_ATTEMPTS = '0' is invalid: expected a positive integer.",
        ),
        (
            "MAX_ERROR_ROWS_FRACTION=1.5",
            "Config key MAX_ERROR_ROWS_FRACTION = '1.5' is invalid: expected a number from 0 to 1.",
        ),
        (
            "OUTPUT_FORMAT=pdf",
            "Config key OUTPUT_FORMAT = 'pdf' is invalid: expected one of xlsx, csv, parquet.",
        ),
        ("HOST=db.local", "HOST is set, so USER and DBNAME must be set too."),
        (
            "INPUT_DIR=gs://bucket/in",
            "Config key INPUT_DIR = 'gs://bucket/in' is invalid: unknown scheme gs://; "
            "expected a local folder or s3://bucket/prefix.",
        ),
        (
            "OUTPUT_DIR=s3:///out",
            "Config key OUTPUT_DIR = 's3:///out' is invalid: the bucket is missing; "
            "expected a local folder or s3://bucket/prefix.",
        ),
        (
            "OUTPUT_DIR=s3://My_Bucket/out",
            "Config key OUTPUT_DIR = 's3://My_Bucket/out' is invalid: 'My_Bucket' is not a "
            "bucket name; expected a local folder or s3://bucket/prefix.",
        ),
        (
            "S3_ENDPOINT_URL=minio:9000",
            "Config key S3_ENDPOINT_URL = 'minio:9000' is invalid: expected an http:// or "
            "https:// URL.",
        ),
    ],
)
def test_bad_value_is_refused_with_key_and_value(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path / "c.properties", line + "\n"), environ={})
    assert info.value.message == message


def test_cors_is_off_by_default(tmp_path: Path) -> None:
    path = write(tmp_path / "c.properties", "CORS_ALLOWED_ORIGINS=\n")
    assert load_settings(path, environ={}).cors_allowed_origins == ()


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("https://app.example.com", ("https://app.example.com",)),
        (
            " http://localhost:3000 , https://app.example.com:8443,",
            ("http://localhost:3000", "https://app.example.com:8443"),
        ),
        ("http://127.0.0.1:5173,http://[::1]:5173", ("http://127.0.0.1:5173", "http://[::1]:5173")),
        ("*", ("*",)),
    ],
)
def test_cors_origins_are_listed_trimmed(
    tmp_path: Path, value: str, origins: tuple[str, ...]
) -> None:
    path = write(tmp_path / "c.properties", f"CORS_ALLOWED_ORIGINS={value}\n")
    assert load_settings(path, environ={}).cors_allowed_origins == origins


CORS_EXPECTED = (
    "expected comma-separated origins such as https://app.example.com,http://localhost:3000, "
    "or * alone."
)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("https://app.example.com/", "origin 'https://app.example.com/' must not end with a slash"),
        (
            "https://app.example.com/api",
            "origin 'https://app.example.com/api' must not have a path, query or fragment",
        ),
        ("app.example.com", "origin 'app.example.com' must start with http:// or https://"),
        ("localhost:3000", "origin 'localhost:3000' must start with http:// or https://"),
        ("ftp://files.example.com", "origin 'ftp://files.example.com' must start with http://"),
        ("https://App.example.com", "origin 'https://App.example.com' must be in lower case"),
        ("https://*.example.com", "origin 'https://*.example.com' must not hold a wildcard"),
        ("*,https://app.example.com", "* already allows every origin, so it must stand alone"),
        ("https://app.example.com:443", "must leave out the default port 443, as browsers do"),
        ("http://localhost:99999", "origin 'http://localhost:99999' has an invalid port 99999"),
        ("https://", "origin 'https://' is not scheme://host[:port]"),
        ("https://me@app.example.com", "is not scheme://host[:port]"),
        ("http://localhost:3000,http://bad host", "origin 'http://bad host' is not scheme://"),
    ],
)
def test_bad_cors_origin_is_refused_with_the_reason(
    tmp_path: Path, value: str, problem: str
) -> None:
    path = write(tmp_path / "c.properties", f"CORS_ALLOWED_ORIGINS={value}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    message = info.value.message
    assert message.startswith(f"Config key CORS_ALLOWED_ORIGINS = {value!r} is invalid: ")
    assert problem in message and message.endswith(CORS_EXPECTED)


def test_bad_cors_origin_message_reads_whole(tmp_path: Path) -> None:
    environ = {"BATCHSCORE_CORS_ALLOWED_ORIGINS": "http://localhost:3000/"}
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path / "c.properties", ""), environ=environ)
    assert info.value.message == (
        "Config key CORS_ALLOWED_ORIGINS = 'http://localhost:3000/' is invalid: "
        "origin 'http://localhost:3000/' must not end with a slash; " + CORS_EXPECTED
    )


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "nope.properties", environ={})
    assert info.value.message == (
        f"Cannot read config file {tmp_path / 'nope.properties'}: No such file or directory."
    )


def test_production_mode_refuses_the_sample_secret(tmp_path: Path) -> None:
    path = write(tmp_path / "c.properties", f"MODE=production\nSECRET_KEY={SAMPLE_SECRET}\n")
    with pytest.raises(ConfigError, match="SECRET_KEY is the sample value while MODE = production"):
        load_settings(path, environ={})
    settings = load_settings(path, environ={"BATCHSCORE_SECRET_KEY": "x" * 40})
    assert settings.mode == "production"


def test_secrets_are_masked_in_repr(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.properties", "DB_URL=mysql+pymysql://u:hunter2@h/db\nSECRET_KEY=topsecret\n"
    )
    text = repr(load_settings(path, environ={}))
    assert "hunter2" not in text and "topsecret" not in text


def test_unknown_key_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    load_settings(write(tmp_path / "c.properties", "LEASE_SECOND=5\n"), environ={})
    assert "Unknown configuration key LEASE_SECOND is ignored" in caplog.text


def test_readme_documents_every_key() -> None:
    table = re.findall(r"^\| `([A-Z0-9_]+)` \|", README.read_text(), flags=re.MULTILINE)
    assert sorted(table) == sorted(KNOWN_KEYS)
