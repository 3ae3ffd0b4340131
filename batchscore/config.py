"""Settings: ConfigFile.properties (jproperties) overlaid by BATCHSCORE_<KEY> environment variables.

load_settings() is called only by entry points; everything else receives a Settings.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus

from jproperties import Properties

from batchscore.errors import ConfigError
from batchscore.logs import LOG_FORMATS

logger = logging.getLogger(__name__)

CONFIG_FILE = "ConfigFile.properties"
SAMPLE_SECRET = "change-me"
MODES = ("demo", "production")
#: The result formats, the first the default, and the media type each is downloaded as.
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
OUTPUT_FORMATS = tuple(MEDIA_TYPES)
#: A classifier's probabilities in a result: that of the predicted class (the default), or
#: one column per class.
PROBABILITIES = ("predicted", "all")
DECIMALS = (".", ",")  # the decimal marks numbers written as text may use
#: Where prometheus_client sums the metrics of `serve --workers N` processes (set by serve).
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
ANY_ORIGIN = "*"


class Secret:
    """A string whose repr is masked, so it never lands in a log or traceback by accident."""

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    def __str__(self) -> str:
        return self._value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    """Typed settings; the defaults run the demo locally on SQLite under data/."""

    database_url: Secret  #: from DB_URL, else HOST/USER/PASSWORD/DBNAME, else SQLite
    input_dir: str  #: an absolute local folder, or s3://bucket/prefix
    output_dir: str  #: the same
    model_dir: Path
    cache_dir: Path = Path("data/cache")  #: local copies of bucket files while a job runs
    s3_endpoint_url: str = ""  #: S3-compatible server (MinIO, Ceph, moto); "" = AWS
    default_model: str = "iris"
    output_format: str = "xlsx"
    lease_seconds: float = 30.0  #: a claim not renewed for this long is given to another processor
    max_attempts: int = 3  #: claims of one job before a crashing job is FAILED for good
    max_error_rows_fraction: float = 0.1  #: share of unscorable rows above which the job FAILS
    chunk_rows: int = 20_000  #: rows read, scored and written per step (bounds memory)
    poll_seconds: float = 0.5  #: how often an idle `batchscore worker` looks for work
    max_upload_bytes: int = 2 * 1024**3
    http_host: str = "127.0.0.1"  #: where `batchscore serve` listens
    http_port: int = 8000
    http_workers: int = 1  #: uvicorn worker processes for `batchscore serve`
    #: job processors `batchscore serve` runs beside the web server (`batchscore worker`
    #: processes); 0 where cron or separate workers process the jobs
    serve_processors: int = 1
    log_format: str = "text"  #: "json": one JSON object per log line, with request and job ids
    cors_allowed_origins: tuple[str, ...] = ()  #: browser origins that may call the API; () = off
    mode: str = "demo"
    secret_key: Secret = field(default_factory=lambda: Secret(SAMPLE_SECRET))
    session_hours: float = 12.0  #: a panel sign-in lasts this long
    login_failures_per_user: int = 5  #: failed sign-ins per user name per window, then a pause
    login_failures_per_address: int = 20  #: failed sign-ins per client address per window
    login_window_seconds: float = 900.0  #: the window the failures above are counted in
    public_url: str = ""  #: where users reach the server, for webhook links; "" = HTTP_HOST:PORT
    webhook_allow_private: bool = False  #: let webhooks go to loopback and private networks
    webhook_attempts: int = 12  #: tries of a webhook before it is FAILED (over ~3.5 hours)
    webhook_retry_seconds: float = 10.0  #: wait after a webhook's first failed try; doubles to 1 h
    webhook_timeout_seconds: float = 10.0  #: how long a receiver may take to answer
    #: argon2 parameters for new password hashes (credentials.HASHERS). Not a config key: only a
    #: test suite sets "cheapest", which makes a hash in 0.1 ms instead of 0.2 s.
    password_hashing: str = "rfc9106-low-memory"

    @property
    def base_url(self) -> str:
        """The server's address as users reach it, ending in /."""
        return (self.public_url or f"http://{self.http_host}:{self.http_port}").rstrip("/") + "/"

    @property
    def heartbeat_seconds(self) -> float:
        """Renew three times per lease, and at least every second: progress looks live, and a
        cancelled job stops within about a second (a renewal is one small UPDATE)."""
        return max(0.05, min(self.lease_seconds / 3, 1.0))


def _positive(cast: Callable[[str], float]) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        value = cast(raw)
        if value <= 0:
            raise ValueError
        return value

    return parse


def _count(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("negative")
    return value


def _bool(raw: str) -> bool:
    if raw.strip().lower() not in ("true", "false"):
        raise ValueError
    return raw.strip().lower() == "true"


def _fraction(raw: str) -> float:
    value = float(raw)
    if not 0 <= value <= 1:
        raise ValueError
    return value


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in options:
            raise ValueError
        return raw

    return parse


class _Invalid(ValueError):
    """A ValueError whose message says what is wrong; _cast puts it into the ConfigError."""


_HOST_PORT = re.compile(r"(?P<host>[a-z0-9_.-]+|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]+))?")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(origin.strip() for origin in raw.split(",") if origin.strip())
    if ANY_ORIGIN in origins and len(origins) > 1:
        raise _Invalid("* already allows every origin, so it must stand alone")
    for origin in origins:
        problem = None if origin == ANY_ORIGIN else _origin_problem(origin)
        if problem:
            raise _Invalid(f"origin {origin!r} {problem}")
    return origins


def _origin_problem(origin: str) -> str | None:
    """Why `origin` can never equal the Origin a browser sends (scheme://host[:port]), if so."""
    scheme, separator, rest = origin.partition("://")
    if origin != origin.lower():
        return "must be in lower case, as browsers send it"
    if scheme not in _DEFAULT_PORTS or not separator:
        return "must start with http:// or https://"
    if rest.endswith("/") and "/" not in rest[:-1]:
        return "must not end with a slash"
    if any(char in rest for char in "/?#"):
        return "must not have a path, query or fragment"
    if "*" in rest:
        return "must not hold a wildcard (* is allowed alone only, for every origin)"
    match = _HOST_PORT.fullmatch(rest)
    if match is None:
        return "is not scheme://host[:port]"
    port = match["port"]
    if port is not None and (port.startswith("0") or int(port) > 65535):
        return f"has an invalid port {port}"
    if port == _DEFAULT_PORTS[scheme]:
        return f"must leave out the default port {port}, as browsers do"
    return None


S3_MISSING = (
    "a bucket needs batchscore's s3 extra, which is not installed here: "
    "pip install 'batchscore[s3]'"
)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def _bucket_url(raw: str) -> str:
    """s3://bucket/prefix, without a trailing slash."""
    scheme, _, rest = raw.partition("://")
    if scheme != "s3":
        raise _Invalid(f"unknown scheme {scheme}://")
    bucket = rest.split("/", 1)[0]
    if not _BUCKET.fullmatch(bucket):
        raise _Invalid(f"{bucket!r} is not a bucket name" if bucket else "the bucket is missing")
    if importlib.util.find_spec("s3fs") is None:
        raise _Invalid(S3_MISSING)
    return f"s3://{rest.strip('/')}"


def _endpoint(raw: str) -> str:
    scheme, separator, host = raw.partition("://")
    if scheme not in ("http", "https") or not separator or not host.strip("/"):
        raise ValueError
    return raw.rstrip("/")


# key → (Settings field, parser, what the value must be). DB connection keys are handled apart.
_KEYS: dict[str, tuple[str, Callable[[str], object], str]] = {
    "DEFAULT_MODEL": ("default_model", str, "a model name"),
    "OUTPUT_FORMAT": (
        "output_format",
        _choice(OUTPUT_FORMATS),
        f"one of {', '.join(OUTPUT_FORMATS)}",
    ),
    "LEASE_SECONDS": ("lease_seconds", _positive(float), "a positive number of seconds"),
    "MAX_ATTEMPTS": ("max_attempts", _positive(int), "a positive integer"),
    "MAX_ERROR_ROWS_FRACTION": ("max_error_rows_fraction", _fraction, "a number from 0 to 1"),
    "CHUNK_ROWS": ("chunk_rows", _positive(int), "a positive integer"),
    "POLL_SECONDS": ("poll_seconds", _positive(float), "a positive number of seconds"),
    "MAX_UPLOAD_BYTES": ("max_upload_bytes", _positive(int), "a positive integer (bytes)"),
    "S3_ENDPOINT_URL": ("s3_endpoint_url", _endpoint, "an http:// or https:// URL"),
    "HTTP_HOST": ("http_host", str, "an address to listen on"),
    "HTTP_PORT": ("http_port", _positive(int), "a port number"),
    "HTTP_WORKERS": ("http_workers", _positive(int), "a positive integer"),
    "SERVE_PROCESSORS": ("serve_processors", _count, "a whole number, 0 or more"),
    "LOG_FORMAT": ("log_format", _choice(LOG_FORMATS), "text or json"),
    "CORS_ALLOWED_ORIGINS": (
        "cors_allowed_origins",
        _origins,
        "comma-separated origins such as https://app.example.com,http://localhost:3000, or * alone",
    ),
    "MODE": ("mode", _choice(MODES), "demo or production"),
    "SECRET_KEY": ("secret_key", Secret, "a long random string"),
    "SESSION_HOURS": ("session_hours", _positive(float), "a positive number of hours"),
    "LOGIN_FAILURES_PER_USER": ("login_failures_per_user", _positive(int), "a positive integer"),
    "LOGIN_FAILURES_PER_ADDRESS": (
        "login_failures_per_address",
        _positive(int),
        "a positive integer",
    ),
    "LOGIN_WINDOW_SECONDS": ("login_window_seconds", _positive(float), "a positive number"),
    "PUBLIC_URL": ("public_url", _endpoint, "an http:// or https:// URL"),
    "WEBHOOK_ALLOW_PRIVATE": ("webhook_allow_private", _bool, "true or false"),
    "WEBHOOK_ATTEMPTS": ("webhook_attempts", _positive(int), "a positive integer"),
    "WEBHOOK_RETRY_SECONDS": ("webhook_retry_seconds", _positive(float), "a positive number"),
    "WEBHOOK_TIMEOUT_SECONDS": ("webhook_timeout_seconds", _positive(float), "a positive number"),
}
_STORAGE_DIRS = {"INPUT_DIR": "data/input", "OUTPUT_DIR": "data/output"}
_LOCAL_DIRS = {"MODEL_DIR": "data/models", "CACHE_DIR": "data/cache"}
_DB_KEYS = ("DB_URL", "HOST", "PORT", "USER", "PASSWORD", "DBNAME")
KNOWN_KEYS = (*_DB_KEYS, *_STORAGE_DIRS, *_LOCAL_DIRS, *_KEYS)


def load_settings(path: Path | None = None, environ: Mapping[str, str] = os.environ) -> Settings:
    """Read the config file (if any), overlay BATCHSCORE_* variables, validate; ConfigError if bad.

    The file is `path`, else $BATCHSCORE_CONFIG, else ./ConfigFile.properties when it exists.
    Relative folders are resolved against the config file's folder, so cron can run from anywhere.
    """
    if path is None and environ.get("BATCHSCORE_CONFIG"):
        path = Path(environ["BATCHSCORE_CONFIG"])
    if path is None and Path(CONFIG_FILE).is_file():
        path = Path(CONFIG_FILE)
    raw = _read_file(path) if path is not None else {}
    for key in KNOWN_KEYS:
        if f"BATCHSCORE_{key}" in environ:
            raw[key] = environ[f"BATCHSCORE_{key}"]
    for key in sorted(set(raw) - set(KNOWN_KEYS)):
        logger.warning("Unknown configuration key %s is ignored (known keys: %s)", key, KNOWN_KEYS)
    base = path.resolve().parent if path is not None else Path.cwd()
    values: dict[str, object] = {}
    for key, (name, parse, expected) in _KEYS.items():
        if raw.get(key, "") != "":
            values[name] = _cast(key, raw[key], parse, expected)
    for key, default in _STORAGE_DIRS.items():
        value = raw.get(key) or default
        values[key.lower()] = (
            _cast(key, value, _bucket_url, "a local folder or s3://bucket/prefix")
            if "://" in value
            else str(base / value)
        )
    for key, default in _LOCAL_DIRS.items():
        values[key.lower()] = base / (raw.get(key) or default)
    settings = Settings(database_url=Secret(_database_url(raw, base)), **values)  # type: ignore[arg-type]
    _check_secret(settings)
    return settings


def _read_file(path: Path) -> dict[str, str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror}.") from exc
    props = Properties()
    props.load(data, "utf-8")
    return {key: value.data.strip() for key, value in props.items()}


def _cast(key: str, raw: str, parse: Callable[[str], object], expected: str) -> object:
    try:
        return parse(raw)
    except ValueError as exc:
        problem = f"{exc}; " if isinstance(exc, _Invalid) else ""
        raise ConfigError(
            f"Config key {key} = {raw!r} is invalid: {problem}expected {expected}."
        ) from exc


def _database_url(raw: Mapping[str, str], base: Path) -> str:
    """DB_URL wins; else HOST/USER/PASSWORD/DBNAME (the seed's MySQL keys); else SQLite in data/."""
    if raw.get("DB_URL"):
        return raw["DB_URL"]
    if raw.get("HOST"):
        missing = [k for k in ("USER", "DBNAME") if not raw.get(k)]
        if missing:
            raise ConfigError(f"HOST is set, so {' and '.join(missing)} must be set too.")
        port = _cast("PORT", raw.get("PORT") or "3306", _positive(int), "a port number")
        user, password = quote_plus(raw["USER"]), quote_plus(raw.get("PASSWORD", ""))
        return (
            f"mysql+pymysql://{user}:{password}@{raw['HOST']}:{port}/{raw['DBNAME']}"
            "?charset=utf8mb4"
        )
    return f"sqlite:///{base / 'data' / 'batchscore.db'}"


def _check_secret(settings: Settings) -> None:
    if settings.mode == "production" and str(settings.secret_key) in ("", SAMPLE_SECRET):
        raise ConfigError(
            "SECRET_KEY is the sample value while MODE = production. Set BATCHSCORE_SECRET_KEY "
            "to a long random string, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`."
        )
