"""Sending e-mail over SMTP: the only code here that talks to a mail server."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from core.errors import PermanentError, RetryableError
from core.inputs import one_line, single_mailbox


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str
    password: str
    security: str  # starttls | tls | none
    from_address: str
    timeout_seconds: float


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str
    idempotency_key: str


def build_message(settings: SmtpSettings, email: Email) -> EmailMessage:
    """The message; PermanentError when `to` is not exactly one plain address (a comma, a
    second address or a line break would add recipients or headers)."""
    recipient = single_mailbox(email.to)
    if recipient is None:
        raise PermanentError(f"not one e-mail address: {one_line(email.to, 100)!r}; "
                             "no e-mail sent")
    message = EmailMessage()
    message["From"] = settings.from_address
    message["To"] = recipient
    message["Subject"] = one_line(email.subject, 200)
    # One Message-ID per logical message: a resend after a crash is recognisable as the same.
    domain = settings.from_address.rpartition("@")[2].strip("> ") or "droptrack.local"
    message["Message-ID"] = make_msgid(idstring=email.idempotency_key.replace(":", "."),
                                       domain=domain)
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


def send(settings: SmtpSettings, email: Email) -> None:
    message = build_message(settings, email)
    context = ssl.create_default_context()
    try:
        if settings.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port,
                                                    timeout=settings.timeout_seconds,
                                                    context=context)
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        with client:
            if settings.security == "starttls":
                client.starttls(context=context)
            if settings.username:
                client.login(settings.username, settings.password)
            client.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentError(f"the mail server refused {email.to}") from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise RetryableError("the mail server rejected DropTrack's SMTP login") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise RetryableError(f"sending e-mail failed: {type(exc).__name__}") from exc
