"""One webhook delivery's work inside the WSGI app, without gunicorn: DropTrack vs the bare
HMAC endpoint (bench/bare_endpoint.py), in this process.

    .venv/bin/python bench/intake_inprocess.py [--deliveries 3000] [--repo PATH]

The same signed ~6 KB `orders/create` deliveries as bench/webhook_intake.py are handed to each
app's WSGI callable. A temp SQLite database is prepared with the `droptrack` CLI. Printed per
delivery:

- Python function calls, counted by cProfile. This does not depend on what else runs on the
  machine, so it compares two commits fairly on a shared machine;
- CPU µs (process time, without the profiler), three rounds, next to the bare endpoint's
  in the same process;
- the cumulative share of the handler's parts, from the profile.

`--repo` imports DropTrack from another checkout (e.g. a `git worktree` of an older commit)
so two commits can be measured one after the other under the same conditions.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def environ(request: Any) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/webhooks/shopify", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000", "wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": str(len(request.body)), "CONTENT_TYPE": "application/json",
        "wsgi.input": io.BytesIO(request.body), "wsgi.errors": sys.stderr,
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000", "HTTP_USER_AGENT": "bench",
        "wsgi.input_terminated": True}
    for name, value in request.headers().items():
        if name.lower() != "content-type":
            env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def run(app: WSGIApp, requests: list[Any]) -> float:
    """CPU µs per delivery; every answer must be a 200."""
    status: list[str] = []

    def start_response(line: str, _headers: Any, _exc: Any = None) -> None:
        status.append(line)

    started = time.process_time()
    for request in requests:
        b"".join(app(environ(request), start_response))
    spent = time.process_time() - started
    if any(not line.startswith("200") for line in status):
        raise SystemExit(f"an answer was not 200: {sorted(set(status))}")
    return 1e6 * spent / len(requests)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--repo", type=Path, default=BENCH_DIR.parent,
                        help="the checkout whose DropTrack is measured")
    args = parser.parse_args()
    # The checkout first; this one's root also in the path, so scale_common (imported by
    # webhook_intake) does not put it in front.
    sys.path[:0] = [str(BENCH_DIR), str(args.repo.resolve())]
    sys.path.append(str(BENCH_DIR.parent))
    import webhook_intake as wi

    n = args.deliveries
    with tempfile.TemporaryDirectory(prefix="dt-intake-inproc.") as folder:
        env = wi.droptrack_env(Path(folder))
        secret = secrets.token_hex(16)
        wi.prepare_database(env, secret)
        os.environ.update(env)
        os.environ["BENCH_WEBHOOK_SECRET"] = secret
        requests = wi.RequestFactory(secret.encode()).make(5 * n + 200)
        import bare_endpoint

        from integration.web.wsgi import app as droptrack

        here = Path(sys.modules["integration"].__file__ or "").resolve().parent.parent
        if here != args.repo.resolve():
            raise SystemExit(f"DropTrack was imported from {here}, not {args.repo}")

        run(droptrack, requests[:200])  # warm: caches, prepared statements, first connection
        run(bare_endpoint.app, requests[:200])
        profile = cProfile.Profile()
        profile.enable()
        run(droptrack, requests[200:200 + n])
        profile.disable()
        stats = pstats.Stats(profile)
        calls = stats.total_calls  # type: ignore[attr-defined]
        print(f"DropTrack from {args.repo.resolve()}: {calls / n:.0f} Python function calls "
              f"per delivery (cProfile, {n:,} deliveries)")
        for round_ in range(3):
            batch = requests[200 + (round_ + 1) * n: 200 + (round_ + 2) * n]
            ours = run(droptrack, batch)
            bare = run(bare_endpoint.app, batch)
            print(f"round {round_ + 1}: DropTrack {ours:.0f} µs CPU per delivery, bare "
                  f"{bare:.0f} µs (bare / DropTrack {bare / ours:.2f})")
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(
            r"webhooks|storage|jobs/inbox", 12)
        print(out.getvalue().split("\n\n", 2)[-1].rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
