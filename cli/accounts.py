"""Commands on users and API tokens: user add, token create / list / revoke."""

from __future__ import annotations

import argparse
import getpass
import sys

from batchscore.cli.common import EXIT_OK, context_of
from batchscore.errors import BatchscoreError


def add_user(args: argparse.Namespace) -> int:
    from batchscore.service import accounts

    ctx = context_of(args)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not sys.stdin.isatty():
        raise BatchscoreError(
            "No terminal to type the password in: pipe it with --password-stdin, e.g. "
            f'`echo "$PASSWORD" | batchscore user add {args.username} --password-stdin`.'
        )
    else:
        password = getpass.getpass(f"Password for {args.username}: ")
        if getpass.getpass("Again: ") != password:
            raise BatchscoreError("The passwords differ; nothing was changed.")
    user = accounts.add_user(ctx, args.username, password, is_admin=args.admin)
    print(f"User {user.username} created (id {user.id}{', admin' if user.is_admin else ''}).")
    return EXIT_OK


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
            print(f"{t.id:>5}  {t.name:<20}  created {t.created_at:%Y-%m-%d}  {state}")
        return EXIT_OK
    record, secret = accounts.new_token(ctx, user.id, args.name)
    print(f"Token {record.id} for {args.subject} (shown once, keep it secret):")
    print(secret)
    return EXIT_OK
