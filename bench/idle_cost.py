"""Idle cost: what one scheduler tick costs when nothing is due, at 10k, 100k and 1M delivered
(historical) orders, on SQLite and PostgreSQL (issue 10, scenario 2).

    .venv/bin/python bench/idle_cost.py [--backend both] [--sizes 10000,100000,1000000]
                                        [--repeat 7] [--append-doc]

PostgreSQL: TEST_POSTGRES_URL / BENCH_POSTGRES_URL, else a throwaway PostgreSQL 15 started here
(see bench/scale_common.py). Needs about 2 GB of disk at 1M orders per backend.

Method: one database per backend grows from 10k to 100k to 1M delivered orders (each with its
supplier order and delivered parcel; 5% cancelled without a parcel), bulk-inserted with Core
`insert()` in chunks of 10,000, then ANALYZE. A constant live set sits next to the history at
every size: 1,000 parcels in transit whose next check is 6-7 h away, 200 supplier orders
forwarded an hour ago, 20,000 finished outbox jobs and 5,000 processed webhook deliveries
inside the retention window: live, but nothing due. At each size every sweep of the scheduler
(`integration/scheduling/scheduler.py`: queue_tracking_polls, flag_attention_needed,
queue_csv_exchanges, prune_old_records) and the outbox queries that run every second
(`outbox.claim_due` of the
embedded dispatcher, `outbox.mark_for_queue` of `droptrack scheduler`) run once to warm up and
then `--repeat` times; reported: the median CPU time of this process (`time.process_time`;
on SQLite that includes the database engine, on PostgreSQL the server's work is in the next
columns), the median wall time, the SQL statements per run (SQLAlchemy `before_cursor_execute`
events), and the rows the database touched: on PostgreSQL the rows every scan node read
(returned + removed by filter, times loops) from `EXPLAIN (ANALYZE, BUFFERS)` of each captured
statement, in a rolled-back transaction; on SQLite the virtual-machine steps (a progress handler
counting every 100 instructions). Extra row, not part of the tick: `eta.delivery_window`,
which every Shopify write-back runs (the promised delivery date), to show a history-sized
query on the work path. Target: flat within noise across sizes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scale_common import (
    NOW,
    CpuMeter,
    PgServer,
    Seeded,
    append_doc,
    database_url,
    grow_history,
    machine_summary,
    open_runtime,
    other_load_now,
    postgres,
    seed_base,
)
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine

from integration.engine import eta
from integration.jobs import outbox
from integration.kernel.runtime import Runtime
from integration.scheduling import scheduler
from integration.scheduling.process import SWEEP_BATCH

HISTORY_TABLES = ("orders", "shipments", "supplier_orders", "order_lines", "tracking_events")
HISTORY_ROWS = 5_000  # a scan reading more rows of a history table than the live set holds
SQLITE_STEP = 100  # progress-handler granularity (VM instructions)

# Indexes this benchmark can compare with and without (name -> table, columns). The index is
# dropped for the "without" run when the migrations created it, created for the "with" run when
# they did not; each run re-measures the functions listed.
CANDIDATES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "ix_shipments_delivered_at": ("shipments", ("delivered_at",),
                                  ("eta.delivery_window (per write-back)",)),
    "ix_supplier_orders_status_supplier": ("supplier_orders", ("status", "supplier_id"),
                                           ("queue_csv_exchanges",)),
}


# --- what runs --------------------------------------------------------------------------------


def claim_due(runtime: Runtime) -> None:
    with runtime.db.write() as session:
        outbox.claim_due(session, "bench", runtime.clock.now(), timedelta(seconds=120), 4)


def mark_for_queue(runtime: Runtime) -> None:
    with runtime.db.write() as session:
        outbox.mark_for_queue(session, runtime.clock.now(), timedelta(seconds=60), SWEEP_BATCH,
                              timedelta(seconds=120))


def make_delivery_window(seeded: Seeded) -> Callable[[Runtime], None]:
    def delivery_window(runtime: Runtime) -> None:
        with runtime.db.read() as session:
            eta.delivery_window(session, seeded.supplier_ids[1], "DE")
    return delivery_window


def functions(seeded: Seeded) -> list[tuple[str, Callable[[Runtime], None]]]:
    return [
        ("queue_tracking_polls", scheduler.queue_tracking_polls),
        ("flag_attention_needed", scheduler.flag_attention_needed),
        ("queue_csv_exchanges", scheduler.queue_csv_exchanges),
        ("prune_old_records", scheduler.prune_old_records),
        ("outbox.claim_due (every 0.5 s, embedded)", claim_due),
        ("outbox.mark_for_queue (every 1 s, scaled out)", mark_for_queue),
        ("eta.delivery_window (per write-back)", make_delivery_window(seeded)),
    ]


TICK = 6  # the first six are the idle tick; the last row is on the work path


# --- counting ---------------------------------------------------------------------------------


@dataclass
class Recorder:
    statements: list[tuple[str, Any]] = field(default_factory=list)
    vm_steps: int = 0
    active: bool = False

    def attach(self, engine: Engine) -> None:
        @event.listens_for(engine, "before_cursor_execute")
        def _before(_conn: Connection, _cursor: Any, statement: str, parameters: Any,
                    _context: Any, executemany: bool) -> None:
            if self.active:
                self.statements.append((statement, None if executemany else parameters))

        if engine.dialect.name == "sqlite":
            @event.listens_for(engine, "checkout")
            def _checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
                dbapi_connection.set_progress_handler(self._step, SQLITE_STEP)

    def _step(self) -> int:
        if self.active:
            self.vm_steps += SQLITE_STEP
        return 0

    @contextmanager
    def recording(self) -> Iterator[None]:
        self.statements, self.vm_steps, self.active = [], 0, True
        try:
            yield
        finally:
            self.active = False


@dataclass
class Explained:
    rows: int  # PostgreSQL: rows read by scan nodes
    buffers: int
    plan: str
    history_scan: bool


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _walk(child)


def explain(runtime: Runtime, statement: str, parameters: Any) -> Explained | None:
    head = statement.lstrip().split(None, 1)[0].upper()
    if head not in ("SELECT", "DELETE", "UPDATE", "WITH"):
        return None
    with runtime.db.engine.connect() as connection:
        transaction = connection.begin()
        try:
            if runtime.db.is_sqlite:
                details = [str(row[-1]) for row in connection.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + statement, parameters or ())]
                scans = [d for d in details if d.startswith("SCAN ")]
                history = any(d.split()[1] in HISTORY_TABLES for d in scans)
                return Explained(0, 0, "; ".join(details), history)
            raw = connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters or {}
            ).scalar()
        finally:
            transaction.rollback()
    document = raw if isinstance(raw, list) else json.loads(str(raw))
    top = document[0]["Plan"]
    rows, parts, history = 0, [], False
    for node in _walk(top):
        kind = str(node.get("Node Type", ""))
        if kind.endswith("Scan") and kind != "Bitmap Index Scan":
            loops = int(node.get("Actual Loops", 1))
            read = (int(node.get("Actual Rows", 0)) + int(node.get("Rows Removed by Filter", 0))
                    + int(node.get("Rows Removed by Index Recheck", 0)))
            rows += read * loops
            relation = str(node.get("Relation Name", ""))
            where = node.get("Index Name") or relation
            parts.append(f"{kind} {where} ({read * loops:,} rows)")
            if relation in HISTORY_TABLES and read * loops > HISTORY_ROWS:
                history = True
        elif kind in ("Sort", "Hash Join", "Nested Loop", "Merge Join", "Aggregate"):
            parts.append(kind)
    buffers = int(top.get("Shared Hit Blocks", 0)) + int(top.get("Shared Read Blocks", 0))
    return Explained(rows, buffers, " → ".join(parts[:8]), history)


@dataclass
class Measured:
    backend: str
    history: int
    name: str
    cpu_ms: float
    wall_ms: float
    statements: int
    touched: int  # PostgreSQL: rows scanned; SQLite: VM steps
    buffers: int
    plans: list[str]
    history_scan: bool
    note: str = ""


def measure(runtime: Runtime, recorder: Recorder, backend: str, history: int, name: str,
            function: Callable[[Runtime], None], repeat: int) -> Measured:
    function(runtime)  # warm-up: caches, connections, prepared plans
    cpu, wall, steps = [], [], []
    for _ in range(repeat):
        with recorder.recording():
            started_cpu, started = time.process_time(), time.perf_counter()
            function(runtime)
            cpu.append(time.process_time() - started_cpu)
            wall.append(time.perf_counter() - started)
        steps.append(recorder.vm_steps)
    captured = list(recorder.statements)
    touched = buffers = 0
    plans: list[str] = []
    history_scan = False
    for statement, parameters in captured:
        found = explain(runtime, statement, parameters)
        if found is None:
            continue
        touched += found.rows
        buffers += found.buffers
        history_scan |= found.history_scan
        plans.append(found.plan)
    if runtime.db.is_sqlite:
        touched = int(statistics.median(steps))
    return Measured(backend, history, name, statistics.median(cpu) * 1000,
                    statistics.median(wall) * 1000, len(captured), touched, buffers, plans,
                    history_scan)


# --- indexes compared -------------------------------------------------------------------------


def index_exists(runtime: Runtime, name: str) -> bool:
    with runtime.db.engine.connect() as connection:
        if runtime.db.is_sqlite:
            found = connection.execute(text(
                "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = :n"), {"n": name})
        else:
            found = connection.execute(text("SELECT 1 FROM pg_indexes WHERE indexname = :n"),
                                       {"n": name})
        return found.first() is not None


def set_index(runtime: Runtime, name: str, present: bool) -> None:
    table, columns, _ = CANDIDATES[name]
    with runtime.db.engine.begin() as connection:
        if present:
            connection.execute(text(
                f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({', '.join(columns)})"))
        else:
            connection.execute(text(f"DROP INDEX IF EXISTS {name}"))
    with runtime.db.engine.connect() as connection:
        connection.exec_driver_sql(f"ANALYZE {table}")
        connection.commit()


# --- run --------------------------------------------------------------------------------------


def run_backend(backend: str, server: PgServer | None, sizes: Sequence[int], repeat: int,
                compare: Sequence[str], workdir: Path) -> tuple[list[Measured], list[str]]:
    results: list[Measured] = []
    notes: list[str] = []
    folder = workdir / backend
    folder.mkdir()
    with database_url(backend, server, folder) as url:
        runtime = open_runtime(url)
        recorder = Recorder()
        recorder.attach(runtime.db.engine)
        try:
            seeded = seed_base(runtime, folder / "csv")
            for size in sizes:
                seconds = grow_history(runtime, seeded, size)
                notes.append(f"{backend}: grew to {size:,} delivered orders in {seconds:.0f} s")
                print(notes[-1], file=sys.stderr)
                meter = CpuMeter(roots=(server.pid,) if server and server.pid else ()).start()
                for name, function in functions(seeded):
                    results.append(measure(runtime, recorder, backend, size, name, function,
                                           repeat))
                    r = results[-1]
                    print(f"  {name}: cpu {r.cpu_ms:.2f} ms, wall {r.wall_ms:.2f} ms, "
                          f"{r.statements} statements, touched {r.touched:,}", file=sys.stderr)
                load = meter.other_pct()
                for r in results:
                    if r.history == size and r.backend == backend:
                        r.note = f"{load:.0f}%"
            for name in compare:
                originally = index_exists(runtime, name)
                affected = [(n, f) for n, f in functions(seeded) if n in CANDIDATES[name][2]]
                for present in (False, True):
                    set_index(runtime, name, present)
                    for label, function in affected:
                        m = measure(runtime, recorder, backend, seeded.history,
                                    f"{label} [{'with' if present else 'without'} {name}]",
                                    function, repeat)
                        results.append(m)
                set_index(runtime, name, originally)
        finally:
            runtime.close()
    return results, notes


def long_table(results: Sequence[Measured]) -> str:
    lines = ["| backend | delivered orders | function | CPU ms (p50) | wall ms (p50) | "
             "SQL statements | rows scanned (PG) / VM steps (SQLite) | scans history? (PG: > 5,000 "
             "rows of a history table; SQLite: full SCAN of one in the plan) | "
             "other CPU |",
             "|---|---:|---|---:|---:|---:|---:|:---:|---:|"]
    for r in results:
        lines.append(f"| {r.backend} | {r.history:,} | {r.name} | {r.cpu_ms:.2f} | "
                     f"{r.wall_ms:.2f} | {r.statements} | {r.touched:,} | "
                     f"{'**yes**' if r.history_scan else 'no'} | {r.note} |")
    return "\n".join(lines)


def tick_table(results: Sequence[Measured], sizes: Sequence[int]) -> str:
    """The whole idle tick (the six functions together) per backend and size."""
    lines = ["| backend | delivered orders | tick CPU ms | tick wall ms | SQL statements | "
             "rows scanned (PG) / VM steps (SQLite) |", "|---|---:|---:|---:|---:|---:|"]
    for backend in dict.fromkeys(r.backend for r in results):
        for size in sizes:
            tick = [r for r in results if r.backend == backend and r.history == size
                    and "[" not in r.name][:TICK]
            if not tick:
                continue
            lines.append(f"| {backend} | {size:,} | {sum(r.cpu_ms for r in tick):.2f} | "
                         f"{sum(r.wall_ms for r in tick):.2f} | "
                         f"{sum(r.statements for r in tick)} | "
                         f"{sum(r.touched for r in tick):,} |")
    return "\n".join(lines)


def plans_text(results: Sequence[Measured], size: int) -> str:
    lines = []
    for r in results:
        if r.history == size and "[" not in r.name and r.plans:
            for plan in dict.fromkeys(r.plans):
                lines.append(f"- {r.backend}, {r.name}: {plan}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--compare-index", action="append", default=[],
                        choices=sorted(CANDIDATES),
                        help="at the largest size, re-measure without and with this index")
    parser.add_argument("--append-doc", action="store_true")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    started = datetime.now(UTC)
    print(f"machine: {machine_summary()}", file=sys.stderr)
    before = other_load_now()
    results: list[Measured] = []
    notes: list[str] = []
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dt-idle.")))
        server = stack.enter_context(postgres()) if "postgresql" in backends else None
        version = ""
        for backend in backends:
            found, said = run_backend(backend, server, sizes, args.repeat, args.compare_index,
                                      workdir)
            results += found
            notes += said
        if server is not None:
            from sqlalchemy import create_engine
            admin = create_engine(server.admin_url)
            with admin.connect() as connection:
                version = str(connection.scalar(text("SHOW server_version")))
            admin.dispose()
    body = (f"Run {started:%Y-%m-%d %H:%M} UTC; machine: {machine_summary()}; "
            f"PostgreSQL {version or 'n/a'}; SQLite via Python's sqlite3; clock frozen at "
            f"{NOW:%Y-%m-%d %H:%M} UTC; {args.repeat} runs per function after one warm-up; "
            f"other processes used {before:.0f}% of a CPU just before the run ('other CPU' "
            "column: during each size's measurements).\n\n"
            + tick_table(results, sizes) + "\n\n" + long_table(results) + "\n\n"
            + f"Plans at {sizes[-1]:,} orders (PostgreSQL with actual rows per scan):\n\n"
            + plans_text(results, sizes[-1]) + "\n\n" + "\n".join(f"- {n}" for n in notes))
    print(body)
    if args.append_doc:
        method = (__doc__ or "").split("Method: ", 1)[1].strip()
        append_doc("### Idle cost per scheduler tick (bench/idle_cost.py)\n\n"
                   f"`.venv/bin/python bench/idle_cost.py --sizes {args.sizes} "
                   f"--repeat {args.repeat}"
                   + "".join(f" --compare-index {c}" for c in args.compare_index)
                   + f"`\n\n{method}\n\n{body}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
