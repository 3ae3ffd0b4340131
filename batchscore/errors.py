"""The exception tree. Each class docstring is its default message.

BatchscoreError
├─ ConfigError         bad or missing key → the process refuses to start
├─ InputError          the file or request can't be used → job FAILED / HTTP 422
│  └─ TooLarge         over the upload limit → HTTP 413
├─ ModelError          artifact missing, unloadable or incompatible → job FAILED
├─ NotFound            job / model / user missing or not yours → 404
├─ NotAuthenticated    no or unknown credentials → 401
├─ Forbidden           revoked token, missing CSRF token, admin-only action → 403
├─ TooManyAttempts     too many failed sign-ins; wait → 429
├─ Conflict            the resource exists already / is busy → 409
│  ├─ InvalidTransition  e.g. retry a job that is IN_PROGRESS
│  └─ KeyInUse           an Idempotency-Key a request being handled holds
├─ DatabaseUnavailable the database server can't be reached → 503; workers wait and retry
└─ LeaseLost           our claim expired and another processor owns the job → stop quietly
"""

from __future__ import annotations


class BatchscoreError(Exception):
    """Something went wrong in batchscore."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__ or self.__class__.__name__)

    @property
    def message(self) -> str:
        return str(self.args[0])


class ConfigError(BatchscoreError):
    """The configuration is invalid."""


class InputError(BatchscoreError):
    """The input file cannot be scored."""


class TooLarge(InputError):
    """The file is larger than the upload limit."""


class ModelError(BatchscoreError):
    """The model cannot be loaded or used."""


class NotFound(BatchscoreError):
    """Not found."""


class NotAuthenticated(BatchscoreError):
    """Authentication required: send `Authorization: Bearer <token>`."""


class Forbidden(BatchscoreError):
    """You are not allowed to do this."""


class TooManyAttempts(BatchscoreError):
    """Too many failed sign-ins. Wait a few minutes and try again."""

    def __init__(self, message: str | None = None, *, retry_after_seconds: int = 60) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class Conflict(BatchscoreError):
    """This conflicts with the current state."""


class InvalidTransition(Conflict):
    """The job is not in a state that allows this action."""


class KeyInUse(Conflict):
    """A request with this Idempotency-Key is being handled; try again in a moment."""


class DatabaseUnavailable(BatchscoreError):
    """The database cannot be reached right now."""

    def __init__(self, message: str | None = None, *, reason: str = "") -> None:
        super().__init__(
            message
            or "The database cannot be reached right now. Try again in a minute; if this lasts, "
            "ask the operator to check the database server."
        )
        self.reason = reason  #: the driver's words, for the log only: they name hosts and ports


class LeaseLost(BatchscoreError):
    """Our claim on the job expired and another processor owns it now."""


class GiveBack(BaseException):
    """Raised into a running job to stop it now and hand it back to the queue (a 2nd SIGTERM).

    A BaseException, so the job's own error handling can't mistake it for a failure.
    """
