"""Webhook commands: a user's default callback URL and signing secret (user webhook), and what
became of a job's webhooks (deliveries)."""

from __future__ import annotations

import argparse

from batchscore.cli.common import EXIT_OK, context_of


def user_webhook(args: argparse.Namespace) -> int:
    from batchscore.service import accounts, webhooks

    ctx = context_of(args)
    user = accounts.user_named(ctx, args.username)
    if args.url is not None or args.clear:
        webhooks.set_default(ctx, user.id, None if args.clear else args.url)
    found = (webhooks.renew_secret if args.new_secret else webhooks.settings_of)(ctx, user.id)
    print(f"Default callback URL of {user.username}: {found.callback_url or 'none'}")
    print(f"Signing secret: {found.secret}")
    return EXIT_OK


def deliveries(args: argparse.Namespace) -> int:
    from batchscore.service import webhooks

    found = webhooks.deliveries(context_of(args), None, args.job)
    if not found:
        print(f"Job {args.job} has sent no webhook (it has no callback URL, or has not ended).")
        return EXIT_OK
    print(f"{'ID':>6}  {'EVENT':<14} {'STATUS':<10} {'TRIES':>5}  URL  LAST ANSWER")
    for d in found:
        last = d.last_error or (f"{d.last_status_code}" if d.last_status_code else "")
        if d.status.value == "PENDING" and d.next_attempt_at:
            last += f" (next try {d.next_attempt_at:%H:%M:%S} UTC)"
        print(f"{d.id:>6}  {d.event:<14} {d.status.value:<10} {d.attempts:>5}  {d.url}  {last}")
    return EXIT_OK
