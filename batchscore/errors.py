"""The exception tree. Each class docstring is its default message.

BatchscoreError
├─ ConfigError         bad or missing key → the process refuses to start
├─ InputError          the file as a whole can't be scored → job FAILED with this message
├─ ModelError          artifact missing, unloadable or incompatible → job FAILED
├─ NotFound            job / model / user missing or not yours
├─ InvalidTransition   e.g. retry a job that is IN_PROGRESS
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


class ModelError(BatchscoreError):
    """The model cannot be loaded or used."""


class NotFound(BatchscoreError):
    """Not found."""


class InvalidTransition(BatchscoreError):
    """The job is not in a state that allows this action."""


class LeaseLost(BatchscoreError):
    """Our claim on the job expired and another processor owns it now."""
