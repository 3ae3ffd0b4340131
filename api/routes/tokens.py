"""The panel's page for your own API tokens: list, create (shown once), revoke."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from batchscore.api.auth import current_user
from batchscore.api.pages import render
from batchscore.api.session import CSRF_FIELD
from batchscore.api.state import context_of
from batchscore.db.users import TokenRecord, UserRecord
from batchscore.errors import InputError, NotFound
from batchscore.scopes import SCOPES
from batchscore.service import accounts


def tokens_page(request: Request) -> Response:
    """Your API tokens."""
    return _page(request, current_user(request), {})


def _page(
    request: Request, user: UserRecord, values: Mapping[str, object], status_code: int = 200
) -> Response:
    shown = {"tokens": _tokens(request, user.id), "scopes": SCOPES, **values}
    return render(request, "tokens.html", shown, user=user, status_code=status_code)


async def create_token(request: Request) -> Response:
    """Create a token and show it, this once."""
    async with request.form(max_files=0, max_fields=5 + len(SCOPES)) as form:
        name, supplied = str(form.get("name", "")), str(form.get(CSRF_FIELD, ""))
        scopes = [str(scope) for scope in form.getlist("scope")]
        models = str(form.get("models", "")).split(",")
    return await run_in_threadpool(_create_token, request, name, supplied, scopes, models)


async def revoke(request: Request) -> Response:
    """Revoke one of your tokens; programs using it get 403 from now on."""
    async with request.form(max_files=0, max_fields=5) as form:
        supplied = str(form.get(CSRF_FIELD, ""))
    return await run_in_threadpool(_revoke, request, supplied)


def _create_token(
    request: Request, name: str, csrf_token: str, scopes: list[str], models: list[str]
) -> Response:
    user = current_user(request, csrf_token)
    try:
        record, token = accounts.new_token(
            context_of(request), user.id, name, scopes=scopes, models=models
        )
    except (InputError, NotFound) as exc:
        failed = {"error": exc.message, "name": name, "chosen": scopes, "models": ",".join(models)}
        return _page(request, user, failed, status_code=422)
    return _page(request, user, {"new_token": token, "new_record": record}, status_code=201)


def _revoke(request: Request, csrf_token: str) -> Response:
    user, token_id = current_user(request, csrf_token), request.path_params["token_id"]
    accounts.revoke(context_of(request), token_id, user=user)
    return RedirectResponse("/tokens", status_code=303)


def _tokens(request: Request, user_id: int) -> list[TokenRecord]:
    return accounts.tokens_of(context_of(request), user_id)
