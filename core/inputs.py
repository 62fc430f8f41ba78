"""Checks for text that arrives from outside and goes somewhere it could do harm: a link
shown to customers, an e-mail header, a log line. Pure functions, no I/O."""

from __future__ import annotations

import re
from email.utils import parseaddr
from urllib.parse import urlsplit

MAX_LINK_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# One addr-spec: no display name, no second address, no comments or quoting tricks.
_MAILBOX = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def has_control_characters(text: str) -> bool:
    return _CONTROL.search(text) is not None


def one_line(text: str, limit: int | None = None) -> str:
    """`text` with every control character (CR, LF, NUL, ...) made a space, for e-mail
    headers and log lines: nothing can start a header or a log record of its own."""
    flat = _CONTROL.sub(" ", text)
    return flat if limit is None else flat[:limit]


def escape_controls(text: str) -> str:
    """For logs: control characters shown as escapes (\\n, \\x1b), so a value cannot forge a
    log line or colour a terminal, and nothing is lost from what it said."""
    if not has_control_characters(text):
        return text
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"),
                        text)


def safe_link(url: str | None) -> str | None:
    """An http(s) link with a host, or None: `javascript:`, `data:` and other schemes, and
    links with control characters or spaces, are never shown or written back to a store."""
    if not url:
        return None
    url = url.strip()
    if len(url) > MAX_LINK_CHARS or has_control_characters(url) or " " in url:
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.username or parts.password:
        return None
    return url


def single_mailbox(address: str) -> str | None:
    """`address` when it is exactly one plain e-mail address, else None (a comma, a second
    address, a display name or a CR/LF could add recipients or headers)."""
    address = address.strip()
    if not address or len(address) > 320 or has_control_characters(address):
        return None
    if _MAILBOX.fullmatch(address) is None:
        return None
    name, parsed = parseaddr(address)
    return address if not name and parsed == address else None
