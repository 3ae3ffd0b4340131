"""Which callback URLs a webhook may go to: http(s) only, and (unless the operator allows it
with WEBHOOK_ALLOW_PRIVATE) only hosts on the public internet, so that a user cannot make the
server call its own loopback, the private network behind it or a cloud metadata address (SSRF).

The host is resolved when the URL is given (a typo is refused at once) and again before each
delivery (its DNS may have changed since); redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from batchscore.errors import InputError

MAX_LENGTH = 2048


def check_callback_url(url: str, *, allow_private: bool) -> str:
    """The URL, if a webhook may be sent to it; else InputError saying why."""
    url = url.strip()
    if not _well_formed(url) or len(url) > MAX_LENGTH:
        raise InputError(
            f"The callback URL must be an http:// or https:// address of at most {MAX_LENGTH} "
            f"characters, such as https://example.com/hooks/batchscore; got {url[:100]!r}."
        )
    refusal = address_refusal(url, allow_private=allow_private)
    if refusal:
        raise InputError(refusal)
    return url


def _well_formed(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a port beyond 65535 or not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def address_refusal(url: str, *, allow_private: bool) -> str | None:
    """Why a webhook may not go to `url`'s host as it resolves now; None if it may."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError):
        return f"The callback URL's host {host!r} cannot be found."
    if allow_private:
        return None
    for *_, address in found:
        ip = ipaddress.ip_address(address[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:  # ::ffff:127.0.0.1
            ip = ip.ipv4_mapped
        if not ip.is_global or ip.is_multicast:
            return (
                f"The callback URL's host {host!r} is a private, loopback or reserved address "
                f"({ip}); the operator must set WEBHOOK_ALLOW_PRIVATE = true to allow it."
            )
    return None
