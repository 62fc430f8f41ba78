"""The connectors' HTTP client against a real local server: retries, Retry-After, keep-alive."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from flask import Flask, Response, request

from connectors.http import USER_AGENT, HttpClient, HttpError, TransientHttpError, parse_retry_after
from sandboxes.server import BackgroundServer
from sandboxes.tls import make_tls


class Script:
    """Answers queued (status, headers) pairs in order, then 200; records what it saw."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str]]] = []
        self.seen: list[dict[str, str]] = []
        self.ports: set[int] = set()


@pytest.fixture
def scripted() -> Iterator[tuple[str, Script]]:
    script = Script()
    app = Flask("scripted")

    @app.route("/<path:_path>", methods=["GET", "POST", "PUT"])
    def answer(_path: str) -> Response:
        script.seen.append({"method": request.method, **dict(request.headers)})
        script.ports.add(int(request.environ["REMOTE_PORT"]))
        status, headers = script.answers.pop(0) if script.answers else (200, {})
        if status == 302:
            headers = {"Location": "http://169.254.169.254/latest/meta-data"}
        return Response('{"ok": true}', status=status, headers=headers,
                        content_type="application/json")

    with BackgroundServer(app) as server:
        yield server.url, script


def client(url: str, sleeps: list[float], **options: object) -> HttpClient:
    return HttpClient(url, sleep=sleeps.append, **options)  # type: ignore[arg-type]


def test_get_retries_5xx_then_succeeds_on_one_connection(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.answers = [(503, {}), (502, {})]
    sleeps: list[float] = []
    http = client(url, sleeps)
    assert http.get_json("/orders") == {"ok": True}
    assert len(script.seen) == 3 and len(sleeps) == 2
    http.get_json("/orders")
    assert len(script.ports) == 1, "keep-alive: every call reused one connection"
    assert script.seen[0]["User-Agent"] == USER_AGENT


def test_retry_after_is_honoured_in_call_when_short(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.answers = [(429, {"Retry-After": "3"})]
    sleeps: list[float] = []
    assert client(url, sleeps).get_json("/x") == {"ok": True}
    assert sleeps == [3.0]


def test_long_retry_after_is_handed_to_the_outbox(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.answers = [(429, {"Retry-After": "120"})]
    sleeps: list[float] = []
    with pytest.raises(TransientHttpError) as raised:
        client(url, sleeps).get_json("/x")
    assert raised.value.retry_after_seconds == 120 and raised.value.status == 429
    assert sleeps == [] and len(script.seen) == 1


def test_post_without_idempotency_key_is_not_retried(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.answers = [(500, {}), (500, {})]
    sleeps: list[float] = []
    http = client(url, sleeps)
    with pytest.raises(TransientHttpError):
        http.post_json("/orders", {"a": 1})
    assert len(script.seen) == 1
    assert http.post_json("/orders", {"a": 1}, headers={"Idempotency-Key": "k"}) == {"ok": True}
    assert [s["method"] for s in script.seen] == ["POST", "POST", "POST"]


def test_4xx_is_permanent_and_keeps_the_body(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.answers = [(422, {})]
    with pytest.raises(HttpError) as raised:
        client(url, []).get_json("/x")
    assert raised.value.status == 422 and '"ok"' in raised.value.body
    assert len(script.seen) == 1


def test_redirects_are_refused_not_followed(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.answers = [(302, {})]
    with pytest.raises(HttpError, match=re.escape(
            "redirect to http://169.254.169.254/latest/meta-data not followed")):
        client(url, []).request("GET", "/x")
    assert len(script.seen) == 1


def test_connection_refused_is_retryable() -> None:
    sleeps: list[float] = []
    with pytest.raises(TransientHttpError, match="ConnectionError"):
        client("http://127.0.0.1:9", sleeps, retries=1).get_json("/x")
    assert len(sleeps) == 1


def test_parse_retry_after_accepts_seconds_and_dates() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True),
                             now) == 90.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_https_with_a_configured_ca_bundle_even_when_requests_ca_bundle_is_set(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tls = make_tls("127.0.0.1")
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(tls.ca_pem)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    app = Flask("tls")
    app.add_url_rule("/ping", "ping", lambda: {"pong": True})
    with BackgroundServer(app, ssl_context=tls.server_context) as server:
        assert HttpClient(server.url, verify=str(bundle)).get_json("/ping") == {"pong": True}
        with pytest.raises(TransientHttpError, match="SSLError"):
            HttpClient(server.url, retries=0).get_json("/ping")
