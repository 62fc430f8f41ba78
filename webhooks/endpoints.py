"""The webhook endpoints as a small WSGI application in front of the Flask app.

Deliveries are the hottest path DropTrack has (a sale burst is thousands a minute) and they
need none of what Flask adds for pages: sessions, templates, URL building, hook chains.
Handled here, one delivery costs about 170 µs of CPU instead of 275 µs through Flask, which
is what lets intake keep up with half of a bare HMAC-checking endpoint (docs/benchmarks.md).
Every other path goes on to Flask untouched. What the app does for every request is kept:
a request id (X-Request-ID, echoed, on every log line), JSON errors, and a logged 500 for an
unexpected failure.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import orjson

from integration.base import logs
from webhooks import cj, shopify, suppliers, tracking, woocommerce
from webhooks.intake import Answer, Incoming, Intake, Rejected

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("droptrack.webhooks")

PREFIX = "/webhooks/"
ID = r"(\d{1,18})"  # a database id (larger numbers are no id of ours)


@dataclass(frozen=True)
class Route:
    path: re.Pattern[str]
    source: str  # for the logs
    receive: Callable[..., Answer]  # (intake, incoming, *ids from the path)
    ids: int = 1  # how many leading path groups are database ids (int); the rest stay text


ROUTES = (
    Route(re.compile(r"/webhooks/shopify"), shopify.SOURCE, shopify.receive),
    Route(re.compile(rf"/webhooks/woocommerce/{ID}"), woocommerce.SOURCE, woocommerce.receive),
    Route(re.compile(rf"/webhooks/suppliers/{ID}"), suppliers.SOURCE, suppliers.receive),
    Route(re.compile(r"/webhooks/tracking/17track"), tracking.SOURCE, tracking.receive),
    Route(re.compile(rf"/webhooks/cj/{ID}/([A-Za-z0-9_-]{{20,100}})"), cj.SOURCE, cj.receive),
    Route(re.compile(r"/webhooks/tracking/aftership"), tracking.AFTERSHIP_SOURCE,
          tracking.receive_aftership),
)


_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


def _status_line(status: int) -> str:
    return _STATUS_LINES.get(status) or f"{status} {HTTPStatus(status).phrase}"


class WebhookEndpoints:
    """WSGI middleware: answers the webhook routes itself, hands every other path to `app`."""

    def __init__(self, app: WSGIApplication, intake: Intake) -> None:
        self.app = app
        self.intake = intake

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return self.app(environ, start_response)
        for route in ROUTES:
            match = route.path.fullmatch(path)
            if match is not None:
                break
        else:
            return self.app(environ, start_response)
        request_id = logs.request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        token = logs.request_id.set(request_id)
        try:
            answer = self._answer(route, environ, match.groups())
        finally:
            logs.request_id.reset(token)
        body = orjson.dumps(answer.body)
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                   ("X-Request-ID", request_id)]
        if answer.status == HTTPStatus.METHOD_NOT_ALLOWED:
            headers.append(("Allow", "POST"))
        start_response(_status_line(answer.status), headers)
        return [body]

    def _answer(self, route: Route, environ: dict[str, Any], ids: Iterable[str]) -> Answer:
        if environ.get("REQUEST_METHOD") != "POST":
            return Answer(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "method not allowed"})
        try:
            groups = list(ids)
            values = [int(i) for i in groups[:route.ids]] + groups[route.ids:]
            return route.receive(self.intake, Incoming(environ), *values)
        except Rejected as rejected:
            log.warning("%s webhook rejected (%d): %s", route.source, rejected.status,
                        rejected.reason)
            return Answer(rejected.status, {"error": rejected.public})
        except Exception:  # the platform retries a 500; the log says what went wrong
            log.exception("%s webhook failed", route.source)
            return Answer(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal server error"})
