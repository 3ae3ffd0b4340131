"""What an API token may do. A token made with scopes may call only the routes those scopes
cover (and, if it names models, predict only with those); a token without any, like every
token made before scopes existed, has all its user's rights. The panel's session always has
them. Each API operation names the one scope it needs (api/openapi.operation)."""

from __future__ import annotations

from batchscore.errors import InputError

SCOPES: dict[str, str] = {
    "predict": "score records now, without a job (the predict routes and /invocations)",
    "models:read": "list models and show their versions and features",
    "jobs:read": "list and show jobs, download results, see their webhooks",
    "jobs:write": "upload files, process, cancel, retry, archive and delete jobs",
    "models:admin": "train, import and activate model versions (an admin's token only)",
    "webhooks": "read and change the webhook settings and secret",
}


def checked_scopes(given: list[str] | tuple[str, ...]) -> tuple[str, ...] | None:
    """The scopes, deduplicated in SCOPES' order; None (all rights) for none; InputError for
    one that does not exist."""
    names = {name.strip() for name in given if name.strip()}
    unknown = sorted(names - set(SCOPES))
    if unknown:
        raise InputError(
            f"Unknown token scope {', '.join(unknown)}; choose from {', '.join(SCOPES)}."
        )
    return tuple(name for name in SCOPES if name in names) or None
