"""Commands on users and API tokens: user list / add / passwd / admin / remove, token create /
list / revoke."""

from __future__ import annotations

import argparse
import getpass
import sys

from batchscore.cli.common import EXIT_OK, context_of
from batchscore.errors import BatchscoreError


def add_user(args: argparse.Namespace) -> int:
    from batchscore.service import accounts

    ctx = context_of(args)
    password = _password(args)
    user = accounts.add_user(ctx, args.username, password, is_admin=args.admin)
    print(f"User {user.username} created (id {user.id}{', admin' if user.is_admin else ''}).")
    return EXIT_OK


def list_users(args: argparse.Namespace) -> int:
    from batchscore.service import accounts

    found = accounts.users(context_of(args))
    if not found:
        print("No users. Add one with `batchscore user add NAME`.")
        return EXIT_OK
    print(f"{'USER':<24} {'ADMIN':<6} CREATED")
    for user in found:
        created = user.created_at.strftime("%Y-%m-%d %H:%M")
        print(f"{user.username:<24} {'yes' if user.is_admin else '':<6} {created} UTC")
    return EXIT_OK


def change_password(args: argparse.Namespace) -> int:
    from batchscore.service import accounts

    ctx = context_of(args)
    accounts.user_named(ctx, args.username)  # say so before asking for a password
    user = accounts.change_user(ctx, args.username, password=_password(args))
    print(f"Password of {user.username} changed.")
    return EXIT_OK


def set_admin(args: argparse.Namespace) -> int:
    from batchscore.service import accounts

    user = accounts.change_user(context_of(args), args.username, is_admin=args.state == "on")
    print(f"{user.username} is {'now an admin' if user.is_admin else 'no longer an admin'}.")
    return EXIT_OK


def remove_user(args: argparse.Namespace) -> int:
    from batchscore.service import accounts

    user = accounts.remove_user(context_of(args), args.username)
    print(
        f"User {user.username} removed, with their API tokens. Their jobs are kept; only "
        "admins see them now."
    )
    return EXIT_OK


def _password(args: argparse.Namespace) -> str:
    """From stdin (--password-stdin), else typed twice at a prompt."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise BatchscoreError(
            "No terminal to type the password in: pipe it with --password-stdin, e.g. "
            f'`echo "$PASSWORD" | batchscore user {args.action} {args.username} '
            "--password-stdin`."
        )
    password = getpass.getpass(f"Password for {args.username}: ")
    if getpass.getpass("Again: ") != password:
        raise BatchscoreError("The passwords differ; nothing was changed.")
    return password


def token(args: argparse.Namespace) -> int:
    from batchscore.service import accounts

    ctx = context_of(args)
    if args.action == "revoke":
        if not args.subject.isdigit():
            raise BatchscoreError(
                f"Give the token's id (see `batchscore token list USER`), not {args.subject!r}."
            )
        record = accounts.revoke(ctx, int(args.subject))
        print(f"Token {record.id} ({record.name}) revoked.")
        return EXIT_OK
    user = accounts.user_named(ctx, args.subject)
    if args.action == "list":
        for t in accounts.tokens_of(ctx, user.id):
            state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
            print(
                f"{t.id:>5}  {t.name:<20}  created {t.created_at:%Y-%m-%d}  {state:<18}  "
                f"{_rights(t.scopes, t.models)}"
            )
        return EXIT_OK
    record, secret = accounts.new_token(
        ctx, user.id, args.name, scopes=args.scope or (), models=args.model or ()
    )
    print(f"Token {record.id} for {args.subject}; it may: {_rights(record.scopes, record.models)}")
    print("Shown once, keep it secret (the last line, for `| tail -1`):")
    print(secret)
    return EXIT_OK


def _rights(scopes: tuple[str, ...] | None, models: tuple[str, ...] | None) -> str:
    what = ", ".join(scopes) if scopes else "everything its user may"
    return what + (f" (predicting with {', '.join(models)} only)" if models else "")
