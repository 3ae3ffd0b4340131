"""Table definitions (SQLAlchemy Core). The schema changes only through db/migrations."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import mysql

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Microsecond timestamps on MariaDB (DATETIME defaults to whole seconds there); UTC everywhere.
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
# BIGINT ids on MariaDB; SQLite autoincrements only an INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(150), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("is_admin", Boolean, nullable=False, server_default="0"),
    Column("created_at", Timestamp, nullable=False),
    Column("callback_url", String(2048)),  # the webhook for this user's jobs, unless a job has one
    Column("webhook_secret", String(100)),  # signs this user's webhooks; made when first needed
    sqlite_autoincrement=True,  # a removed user's id (and signed-in sessions) never reused
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 hex of the token
    Column("created_at", Timestamp, nullable=False),
    Column("last_used_at", Timestamp),
    Column("revoked_at", Timestamp),
    Column("scopes", JSON),  # what it may do (batchscore/scopes.py); NULL: all its user may
    Column("models", JSON),  # the models it may predict with; NULL: any
    sqlite_autoincrement=True,
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("owner_id", Id, ForeignKey("users.id", ondelete="SET NULL"), index=True),
    Column("kind", String(10), nullable=False, server_default="score"),  # score or train
    Column("original_filename", String(255), nullable=False),
    Column("input_name", String(255), nullable=False),  # file name inside INPUT_DIR
    Column("input_sha256", String(64), nullable=False),
    Column("input_bytes", BigInteger, nullable=False),
    Column("model_name", String(64), nullable=False),
    Column("model_version", Integer),  # requested version (NULL = active), then the one used
    Column("output_format", String(10), nullable=False),
    Column("output_name", String(255)),  # file name inside OUTPUT_DIR, set when PROCESSED
    Column("result_sheets", Integer),  # sheets of an xlsx result (1 per 1,048,575 rows)
    Column("options", JSON),  # a train job's plan: target, features, estimator, …
    Column("metrics", JSON),  # a processed train job's held-out scores
    Column("summary", JSON),  # a processed score job's predictions at a glance (model.summary)
    Column("read_as", JSON),  # how a score job's file is read: kind, encoding, delimiter, …
    Column("status", String(20), nullable=False),
    Column("rows_total", BigInteger),
    Column("rows_done", BigInteger, nullable=False, server_default="0"),
    Column("rows_failed", BigInteger, nullable=False, server_default="0"),
    Column("error_message", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("worker_id", String(100)),
    Column("claim_token", String(36)),
    Column("lease_expires_at", Timestamp),
    Column("archived", Boolean, nullable=False, server_default="0"),
    Column("created_at", Timestamp, nullable=False),
    Column("started_at", Timestamp),
    Column("finished_at", Timestamp),
    # An API client's Idempotency-Key, and the digest of the request it came with.
    Column("idempotency_key", String(255)),
    Column("request_sha256", String(64)),
    Column("callback_url", String(2048)),  # POSTed the job's JSON when it ends
    # The claim query: WHERE status = 'PENDING' ORDER BY id.
    Index("ix_jobs_status_id", "status", "id"),
    # The reaper: WHERE status = 'IN_PROGRESS' AND lease_expires_at < now.
    Index("ix_jobs_status_lease_expires_at", "status", "lease_expires_at"),
    Index("ix_jobs_finished_at", "finished_at"),  # the last hour's throughput (db/stats.py)
    # One job per user and key: a client's retry finds the first job, even when concurrent.
    Index("ix_jobs_owner_id_idempotency_key", "owner_id", "idempotency_key", unique=True),
    sqlite_autoincrement=True,  # a deleted job's id, and so its URLs, never reused
)

# One row per claim: the audit trail that lets tests (and operators) see that a job ran once.
job_attempts = Table(
    "job_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job_id", Id, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("claim_token", String(36), nullable=False, unique=True),
    Column("worker_id", String(100), nullable=False),
    Column("started_at", Timestamp, nullable=False),
    Column("ended_at", Timestamp),
    Column("outcome", String(20)),  # PROCESSED, FAILED, LEASE_EXPIRED, RELEASED; NULL while running
)

# One row per webhook to send: made in the transaction that ends the job, so none is lost.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job_id", Id, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("event", String(30), nullable=False),  # job.processed, job.failed, job.cancelled
    Column("url", String(2048), nullable=False),
    Column("status", String(20), nullable=False),  # PENDING, DELIVERED, FAILED (gave up)
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Timestamp),  # when PENDING: due then, or a sender holds it till then
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("body", Text),  # the JSON sent, fixed at the first attempt so every retry is the same
    Column("created_at", Timestamp, nullable=False),
    Column("delivered_at", Timestamp),
    # The senders' query: WHERE status = 'PENDING' AND next_attempt_at <= now.
    Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    sqlite_autoincrement=True,
)

# Monotonic totals for /metrics (db/counters.py), added to in the transaction of each event, so
# they are right across processes and restarts and a prune of old jobs never lowers them.
counters = Table(
    "counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("label", String(64), primary_key=True),  # an outcome, a bucket's bound, "sum", or ""
    Column("value", Double, nullable=False),
)

# One row per failed sign-in, keyed "user:<name>" or "address:<ip>"; old rows are pruned.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),
    Column("failed_at", Timestamp, nullable=False),
    Index("ix_login_failures_key_failed_at", "key", "failed_at"),
)

# One row per processor (worker, cron run, API call that processes): when it was last seen alive.
workers = Table(
    "workers",
    metadata,
    Column("worker_id", String(100), primary_key=True),
    Column("role", String(20), nullable=False),  # worker, process-all, process, api
    Column("started_at", Timestamp, nullable=False),
    Column("last_seen_at", Timestamp, nullable=False, index=True),
    Column("stopped_at", Timestamp),
    Column("jobs_done", Integer, nullable=False, server_default="0"),
)
