"""SQL statements, transactions and CPU per order of the job pipeline, in one process: figures
that do not depend on how busy the machine is (issue 20, "End to end on PostgreSQL").

    .venv/bin/python bench/engine_statements.py [--orders 300] [--backend postgresql]
    .venv/bin/python bench/engine_statements.py --baseline-source /tmp/base   # before/after

What one order costs, from a signed `orders/create` delivery to its supplier order, as the
scaled-out layout does it (a throwaway PostgreSQL from bench/scale_common.py, or SQLite):
the webhook intake (WSGI, in process), the scheduler's sweep (`mark_for_queue`) where a job
waits for it, and the worker's claim (`claim_one`), handler and completion for `inbox.process`
and `supplier.forward` (the reference supplier sandbox on loopback, in a thread of its own
whose CPU is not counted). Each statement the database driver executes is counted per stage;
CPU is this thread's (`time.thread_time`). With --baseline-source the same script runs first
in a child process on that checkout's code, then here, and both tables are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

# The baseline's child process runs another checkout's code (BENCH_CODE): first on the path,
# and this checkout already on it, so that scale_common does not put it in front.
if os.environ.get("BENCH_CODE"):
    sys.path.insert(0, os.environ["BENCH_CODE"])
    sys.path.append(str(Path(__file__).resolve().parents[1]))

from intake_at_scale import prepare_runtime
from scale_common import database_url, machine_summary, postgres
from sqlalchemy import event, select
from webhook_intake import REPO, RequestFactory

from integration.base.config import load_settings
from integration.jobs import outbox
from integration.jobs.dispatcher import run_job
from integration.kernel.runtime import Runtime, build_runtime
from integration.security.crypto import generate_key
from integration.storage.models import OutboxJob, SupplierOrder

LEASE = timedelta(seconds=120)


class Meter:
    """Statements and transactions per stage (the stage this thread is in)."""

    def __init__(self) -> None:
        self.stage = "other"
        self.statements: Counter[str] = Counter()
        self.commits: Counter[str] = Counter()
        self.cpu: dict[str, float] = {}
        self.texts: Counter[str] = Counter()  # --statements: what they are
        self._mark = time.thread_time()

    @contextlib.contextmanager
    def at(self, stage: str) -> Iterator[None]:
        """CPU is counted to the innermost stage only (a handler's apart from its runner's)."""
        previous = self._switch(stage)
        try:
            yield
        finally:
            self._switch(previous)

    def _switch(self, stage: str) -> str:
        now = time.thread_time()
        self.cpu[self.stage] = self.cpu.get(self.stage, 0.0) + now - self._mark
        previous, self.stage, self._mark = self.stage, stage, now
        return previous

    def attach(self, runtime: Runtime) -> None:
        main = threading.get_ident()

        @event.listens_for(runtime.db.engine, "before_cursor_execute")
        def _statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if threading.get_ident() == main:
                self.statements[self.stage] += 1
                self.texts[" ".join(statement.split())[:110]] += 1

        @event.listens_for(runtime.db.engine, "commit")
        def _commit(*_args: Any) -> None:
            if threading.get_ident() == main:
                self.commits[self.stage] += 1


def start_sandbox(stack: contextlib.ExitStack) -> str:
    """The reference supplier on a free port, stopped when `stack` closes (cheroot's worker
    threads are not daemons: left running, they keep the process from exiting)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from flask import Flask
    from supplier_sandbox import create_app

    from sandboxes.server import BackgroundServer

    server = BackgroundServer(Flask("binding"))  # binds a free port, then the app for it
    server.serve(create_app(server.port)).start()
    stack.callback(server.stop)
    return server.url


def pipeline(runtime: Runtime, meter: Meter, orders: int, warmup: int) -> dict[str, Any]:
    from integration.web.app import create_app

    try:  # this checkout's chaining (issue 20); absent in the baseline
        from integration.jobs import chain
    except ImportError:
        chain = None  # type: ignore[assignment]
    announced: list[int] = []
    if chain is not None:
        chain.set_announcer(announced.extend)
    client = create_app(runtime=runtime).test_client()
    factory = RequestFactory(WEBHOOK_SECRET[0].encode())
    grace = timedelta(seconds=runtime.settings.workers.queue_grace_seconds)

    def one_round(requests: list[Any]) -> None:
        with meter.at("intake"):
            for request in requests:
                response = client.post("/webhooks/shopify", data=request.body,
                                       headers=request.headers())
                if response.status_code != 200:
                    raise RuntimeError(f"intake answered {response.status_code}")
        while True:
            ids = list(announced)
            announced.clear()
            if not ids:  # nothing announced: wait for the sweep, as the baseline does
                with meter.at("sweep"), runtime.db.write() as session:
                    ids = outbox.mark_for_queue(session, runtime.clock.now(), grace,
                                                500, LEASE)
            if not ids:
                return
            for job_id in ids:
                with meter.at("claim"), runtime.db.write() as session:
                    claimed = outbox.claim_one(session, job_id, "bench", runtime.clock.now(),
                                               LEASE)
                if claimed is not None:
                    with meter.at("job runner (claims, completions, leases)"):
                        run_job(runtime, claimed)

    from integration.jobs import registry

    registry.handler_for("inbox.process")  # loads the handlers
    for kind, handler in list(registry._HANDLERS.items()):  # each handler's own share
        registry._HANDLERS[kind] = _metered(meter, kind, handler)
    one_round(factory.make(warmup))
    meter.statements.clear()
    meter.commits.clear()
    meter.cpu.clear()
    meter.texts.clear()
    one_round(factory.make(orders))
    meter.cpu.pop("other", None)  # between rounds and stages: the script's own bookkeeping
    with runtime.db.read() as session:
        forwarded = len(session.scalars(select(SupplierOrder.id).where(
            SupplierOrder.status == "forwarded")).all())
        states = Counter(session.scalars(select(OutboxJob.state)))
    return {"orders": orders, "forwarded": forwarded - warmup, "states": dict(states),
            "statements": dict(meter.statements), "commits": dict(meter.commits),
            "cpu": dict(meter.cpu), "texts": meter.texts.most_common()}


WEBHOOK_SECRET = [""]


def _metered(meter: Meter, kind: str, handler: Any) -> Any:
    def run(runtime: Runtime, claimed: Any) -> None:
        with meter.at(f"handler {kind}"):
            handler(runtime, claimed)
    return run


def measure(args: argparse.Namespace) -> dict[str, Any]:
    WEBHOOK_SECRET[0] = secrets.token_hex(24)
    meter = Meter()
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        server = stack.enter_context(postgres()) if args.backend == "postgresql" else None
        url = stack.enter_context(database_url(args.backend, server, Path(folder)))
        settings = load_settings(None, environ={}, overrides={
            "database": {"url": url}, "app": {"mode": "production"},
            "dispatcher": {"enabled": False}, "scheduler": {"enabled": False},
            "security": {"secret_key": secrets.token_urlsafe(48),
                         "encryption_keys": [generate_key()], "allow_loopback_http": True},
            "logging": {"level": "WARNING"}})
        runtime = build_runtime(settings)
        try:
            prepare_runtime(runtime, WEBHOOK_SECRET[0], start_sandbox(stack))
            meter.attach(runtime)
            return pipeline(runtime, meter, args.orders, args.warmup)
        finally:
            runtime.close()


def table(label: str, result: dict[str, Any]) -> str:
    n = result["orders"]
    stages = sorted(set(result["statements"]) | set(result["cpu"]))
    lines = [f"{label}: {n} orders, {result['forwarded']} forwarded, jobs {result['states']}",
             "", "| stage | statements per order | commits per order | CPU ms per order |",
             "|---|---:|---:|---:|"]
    for stage in stages:
        lines.append(f"| {stage} | {result['statements'].get(stage, 0) / n:.1f} | "
                     f"{result['commits'].get(stage, 0) / n:.2f} | "
                     f"{result['cpu'].get(stage, 0) * 1000 / n:.2f} |")
    total_s = sum(result["statements"].values()) / n
    total_c = sum(result["commits"].values()) / n
    total_cpu = sum(result["cpu"].values()) * 1000 / n
    lines.append(f"| **all** | **{total_s:.1f}** | **{total_c:.2f}** | **{total_cpu:.2f}** |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--baseline-source", type=Path)
    parser.add_argument("--json", action="store_true", help="print the result as JSON only")
    parser.add_argument("--statements", action="store_true",
                        help="also list the statements run, with their count per order")
    args = parser.parse_args(argv)
    if args.baseline_source is not None:
        code = args.baseline_source.resolve()
        env = {**os.environ, "BENCH_CODE": str(code)}
        command = [sys.executable, str(Path(__file__).resolve()), "--orders", str(args.orders),
                   "--warmup", str(args.warmup), "--backend", args.backend, "--json"]
        baseline = json.loads(subprocess.run(command, env=env, check=True, capture_output=True,
                                             text=True, cwd=code).stdout)
        head = subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        print(f"Machine: {machine_summary()}; backend {args.backend}\n")
        print(table(f"baseline ({code}, commit {head})", baseline))
        print()
    import integration

    print(f"code: {Path(integration.__file__).parent.parent}", file=sys.stderr)
    result = measure(args)
    if args.json:
        print(json.dumps(result))
        return 0
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    print(table(f"this checkout ({REPO}, commit {head})", result))
    if args.statements:
        print()
        for text, count in result["texts"]:
            print(f"{count / args.orders:5.2f}  {text}")
    return 0 if result["forwarded"] == result["orders"] else 1


if __name__ == "__main__":
    sys.exit(main())
